//! DeleteTopics: by name (every version) or by topic id (v6+).

use std::sync::Arc;

use strom_metadata::Uuid;
use strom_protocol::messages::delete_topics_response::DeletableTopicResult;
use strom_protocol::messages::{DeleteTopicsRequest, DeleteTopicsResponse, TopicName};

use super::sb;
use crate::apis::blocking;
use crate::controller::TopicRef;
use crate::server::Broker;

pub async fn handle(
    broker: &Arc<Broker>,
    request: DeleteTopicsRequest,
    version: i16,
) -> DeleteTopicsResponse {
    let refs: Vec<TopicRef> = if version >= 6 {
        request
            .topics
            .iter()
            .map(|t| match &t.name {
                Some(name) => TopicRef::Name(name.to_string()),
                None => TopicRef::Id(t.topic_id),
            })
            .collect()
    } else {
        request
            .topic_names
            .iter()
            .map(|n| TopicRef::Name(n.to_string()))
            .collect()
    };
    let submitted = refs.clone();
    let results = blocking(broker, move |broker| {
        broker.controller.delete_topics(&submitted)
    })
    .await;
    let deleted: Vec<String> = results
        .iter()
        .filter_map(|r| r.as_ref().ok().map(|(name, _)| name.clone()))
        .collect();
    broker.groups.delete_topic_offsets(&deleted).await;
    let responses = refs
        .iter()
        .zip(results)
        .map(|(asked, result)| {
            let (name, id) = match (&result, asked) {
                (Ok((name, id)), _) => (Some(name.clone()), *id),
                (Err(_), TopicRef::Name(name)) => (Some(name.clone()), Uuid::nil()),
                (Err(_), TopicRef::Id(id)) => (None, *id),
            };
            let mut response =
                DeletableTopicResult::default().with_name(name.map(|n| TopicName(sb(n))));
            if version >= 6 {
                response.topic_id = id;
            }
            if let Err(error) = result {
                response.error_code = error.code;
                if version >= 5 {
                    response.error_message = error.message.map(sb);
                }
            }
            response
        })
        .collect();
    DeleteTopicsResponse::default().with_responses(responses)
}
