//! Assertions for the server-selection test format (`server-selection/tests/README.rst`).
