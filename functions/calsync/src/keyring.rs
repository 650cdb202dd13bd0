//! `calsync keyring new` prints a fresh credentials keyring (one random 256-bit key) as the JSON
//! the keyring secret holds; `calsync keyring rotate` reads a keyring on stdin and prints it with
//! a new active key, older keys kept for decryption. Neither touches the database: the operator
//! stores the output with `aws secretsmanager put-secret-value`.

use std::io::Read as _;

use anyhow::Context;
use calsync_core::crypto::Keyring;
use clap::Subcommand;
use secrecy::{ExposeSecret, SecretString};

#[derive(Debug, Subcommand)]
pub(crate) enum KeyringCommand {
    /// Print a new keyring with one random key.
    New,
    /// Read a keyring on stdin and print it with a new active key.
    Rotate,
}

pub(crate) fn run(command: KeyringCommand) -> anyhow::Result<()> {
    let keyring = match command {
        KeyringCommand::New => Keyring::generate(),
        KeyringCommand::Rotate => {
            let mut raw = String::new();
            std::io::stdin().read_to_string(&mut raw).context("reading the keyring from stdin")?;
            let mut keyring = Keyring::from_json(&SecretString::from(raw)).context("parsing the keyring")?;
            keyring.rotate();
            keyring
        }
    };
    println!("{}", keyring.to_json().expose_secret());
    Ok(())
}
