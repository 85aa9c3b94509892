//! A simulated MongoDB deployment that speaks the real wire protocol on 127.0.0.1.

pub mod engine;
