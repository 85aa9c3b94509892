//! Connection string and URI options spec tests, one per spec case (generated).

spec_macros::suite!(connection_string);
spec_macros::suite!(uri_options);
