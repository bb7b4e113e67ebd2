//! Agents: their commands in the database, their presence, and the server side of their
//! session stream.

pub mod commands;
pub mod presence;
pub mod session;
mod writer;
