//! egress: see README.md. Pure logic (parsing, policy, inspection) is tested without root;
//! the loader, daemon and guardian need root and a kernel with BPF.
pub mod api;
pub mod audit;
pub mod cgroup;
pub mod daemon;
pub mod detect;
pub mod guardian;
pub mod http1;
pub mod inspector;
pub mod llm;
pub mod loader;
pub mod policy;
pub mod procmem;
pub mod review;
pub mod run;
pub mod scan;
pub mod sockets;
pub mod targets;
