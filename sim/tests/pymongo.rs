//! pymongo scenarios (placeholder; filled below).
