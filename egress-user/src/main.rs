use std::path::Path;
fn main() -> anyhow::Result<()> {
    let config = egress_common::Config { mode: 1, fail_mode: 0, capture_max: 65536, _reserved: 0, heartbeat_timeout_ns: 2_000_000_000 };
    let mut k = egress::loader::Kernel::load(egress::loader::pin_dir("smoke"), config)?;
    k.attach_global()?;
    let mount = egress::cgroup::cgroup2_mount()?;
    let dir = mount.join("egress-smoke");
    std::fs::create_dir_all(&dir)?;
    k.watch_cgroup(&dir, egress::cgroup::cgroup_id(&dir)?)?;
    let lib = Path::new("/usr/lib/x86_64-linux-gnu/libssl.so.3");
    let ex = egress::targets::inspect(lib)?;
    println!("{ex:?}");
    k.attach_openssl(lib, &ex)?;
    k.attach_loader_hook(Path::new("/lib64/ld-linux-x86-64.so.2"))?;
    println!("attached; counters {:?}", k.counters());
    k.release()?;
    std::fs::remove_dir(&dir)?;
    Ok(())
}
