//! Machine baselines: what the disk and the loopback network can do, measured the same way
//! every time so that Strom's figures can be given as a ratio of them.

use std::path::PathBuf;

use clap::Args;

#[derive(Args)]
pub struct DiskArgs {
    /// Directory whose filesystem is measured (a temporary file is written there).
    #[arg(long, default_value = ".")]
    pub dir: PathBuf,
    /// Print one JSON object as the last line.
    #[arg(long)]
    pub json: bool,
}

#[derive(Args)]
pub struct NetArgs {
    /// Print one JSON object as the last line.
    #[arg(long)]
    pub json: bool,
}

pub fn disk(_args: DiskArgs) -> anyhow::Result<()> {
    anyhow::bail!("not implemented yet")
}

pub fn net(_args: NetArgs) -> anyhow::Result<()> {
    anyhow::bail!("not implemented yet")
}
