
pub mod policy;
pub mod http1;
pub mod cgroup;
pub mod loader;
pub mod targets;
