//! Builds the eBPF programs (egress-ebpf) with the pinned nightly and bpf-linker, so that the
//! `egress` binary embeds them (`include_bytes_aligned!` in src/loader.rs).

/// Must match egress-ebpf/rust-toolchain.toml (`rustup run` overrides the directory's pin).
const EBPF_TOOLCHAIN: &str = "nightly-2026-10-01";

fn main() -> anyhow::Result<()> {
    aya_build::build_ebpf(
        [aya_build::Package {
            name: "egress-ebpf",
            root_dir: concat!(env!("CARGO_MANIFEST_DIR"), "/../egress-ebpf"),
            ..Default::default()
        }],
        aya_build::Toolchain::Custom(EBPF_TOOLCHAIN),
    )
}
