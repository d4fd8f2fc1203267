//! Kernel isolation of the worker: namespaces, Landlock, resource limits, capabilities.
//!
//! Runs before Python starts. Each measure is applied if the kernel and our
//! privileges allow it and reported as a [`Protection`]; a missing one is
//! reported, never silently skipped (`codeact doctor` lists them).

use std::fs;
use std::path::Path;

use landlock::{
    path_beneath_rules, Access, AccessFs, AccessNet, Ruleset, RulesetAttr, RulesetCreatedAttr,
    RulesetStatus, Scope, ABI,
};
use nix::mount::{mount, MsFlags};
use nix::sched::{unshare, CloneFlags};
use nix::sys::resource::{setrlimit, Resource};
use nix::unistd::{getegid, geteuid};

use codeact_protocol::config::WorkerConfig;
use codeact_protocol::wire::Protection;

fn protection(name: &str, active: bool, detail: impl Into<String>) -> Protection {
    Protection {
        name: name.into(),
        active,
        detail: detail.into(),
    }
}

/// Step 1, in the outer worker process before it forks: join the pids cgroup
/// and enter new network, PID and mount namespaces (through a user namespace
/// when not root). Returns whether a PID namespace was entered: the next
/// child is then PID 1 of it, and killing it kills everything it started.
pub fn enter_namespaces(config: &WorkerConfig, out: &mut Vec<Protection>) -> bool {
    if !config.sandbox {
        return false;
    }
    // The cgroup first, so every later process is counted.
    match &config.cgroup_procs {
        Some(procs) => match fs::write(procs, "0") {
            Ok(()) => out.push(protection(
                "process_count",
                true,
                format!(
                    "at most {} processes and threads (pids cgroup)",
                    config.limits.max_processes
                ),
            )),
            Err(e) => out.push(protection(
                "process_count",
                false,
                format!("could not join the pids cgroup: {e}; RLIMIT_NPROC only"),
            )),
        },
        None if geteuid().is_root() => out.push(protection(
            "process_count",
            false,
            "no pids cgroup could be made, and RLIMIT_NPROC does not bind root: a fork bomb is limited only by the time limit",
        )),
        None => out.push(protection(
            "process_count",
            true,
            format!("at most {} processes (RLIMIT_NPROC)", config.limits.max_processes),
        )),
    }

    if !geteuid().is_root() {
        let (uid, gid) = (geteuid(), getegid());
        let user_ns = unshare(CloneFlags::CLONE_NEWUSER).and_then(|()| {
            // Map ourselves to root inside, so we may create the other namespaces.
            let _ = fs::write("/proc/self/setgroups", "deny");
            fs::write("/proc/self/uid_map", format!("0 {uid} 1"))
                .and_then(|()| fs::write("/proc/self/gid_map", format!("0 {gid} 1")))
                .map_err(|_| nix::errno::Errno::EPERM)
        });
        if let Err(e) = user_ns {
            out.push(protection(
                "network",
                false,
                format!("no user namespace ({e}); the worker can use the network"),
            ));
            out.push(protection(
                "process_tree",
                false,
                "no PID namespace: child processes are killed by process group only",
            ));
            return false;
        }
    }
    match unshare(CloneFlags::CLONE_NEWNET) {
        Ok(()) => out.push(protection(
            "network",
            true,
            "own network namespace with no interfaces up: no network, not even loopback",
        )),
        Err(e) => out.push(protection(
            "network",
            false,
            format!("no network namespace ({e}); the worker can use the network"),
        )),
    }
    match unshare(CloneFlags::CLONE_NEWPID | CloneFlags::CLONE_NEWNS) {
        Ok(()) => {
            out.push(protection(
                "process_tree",
                true,
                "own PID namespace: a hard stop kills every process the code started",
            ));
            true
        }
        Err(e) => {
            out.push(protection(
                "process_tree",
                false,
                format!("no PID namespace ({e}): child processes are killed by process group only"),
            ));
            false
        }
    }
}

/// In init (PID 1 of the new namespace): a /proc of our own, so the
/// supervisor and the rest of the machine are invisible to the code.
pub fn mount_private_proc(out: &mut Vec<Protection>) {
    let private = mount(
        None::<&str>,
        "/",
        None::<&str>,
        MsFlags::MS_REC | MsFlags::MS_PRIVATE,
        None::<&str>,
    )
    .and_then(|()| {
        mount(
            Some("proc"),
            "/proc",
            Some("proc"),
            MsFlags::MS_NOSUID | MsFlags::MS_NODEV | MsFlags::MS_NOEXEC,
            None::<&str>,
        )
    });
    out.push(match private {
        Ok(()) => protection("proc", true, "private /proc: other processes are invisible"),
        Err(e) => protection(
            "proc",
            false,
            format!("could not mount a private /proc: {e}"),
        ),
    });
}

/// Step 2, in the Python worker before Python starts: limits, Landlock, capabilities.
pub fn restrict_self(config: &WorkerConfig, out: &mut Vec<Protection>) {
    set_limits(config, out);
    if !config.sandbox {
        out.push(protection(
            "sandbox",
            false,
            "sandbox disabled by configuration: the worker has the supervisor's rights",
        ));
        return;
    }
    if let Err(e) = nix::sys::prctl::set_no_new_privs() {
        out.push(protection("no_new_privs", false, e.to_string()));
    }
    landlock_restrict(&config.workspace, out);
    drop_capabilities(out);
}

fn set_limits(config: &WorkerConfig, out: &mut Vec<Protection>) {
    let l = &config.limits;
    let mib = 1u64 << 20;
    let mut apply = |name: &str, res: Resource, value: u64, detail: String| {
        out.push(match setrlimit(res, value, value) {
            Ok(()) => protection(name, true, detail),
            Err(e) => protection(name, false, format!("setrlimit failed: {e}")),
        });
    };
    apply(
        "memory",
        Resource::RLIMIT_AS,
        l.memory_mb * mib,
        format!("{} MiB of address space (RLIMIT_AS)", l.memory_mb),
    );
    apply(
        "cpu_time",
        Resource::RLIMIT_CPU,
        l.cpu_seconds,
        format!("{} CPU seconds per worker (RLIMIT_CPU)", l.cpu_seconds),
    );
    apply(
        "file_size",
        Resource::RLIMIT_FSIZE,
        l.file_size_mb * mib,
        format!("files up to {} MiB (RLIMIT_FSIZE)", l.file_size_mb),
    );
    // RLIMIT_NPROC counts per user; it binds only a non-root (or namespaced) worker.
    let _ = setrlimit(Resource::RLIMIT_NPROC, l.max_processes, l.max_processes);
    let _ = setrlimit(Resource::RLIMIT_CORE, 0, 0);
}

/// A Landlock layer: read anywhere, write only in `dir` (and /dev/null,
/// /dev/zero); no TCP; signals and abstract sockets only within.
fn writes_only_in(dir: &Path) -> Result<landlock::RestrictionStatus, landlock::RulesetError> {
    let abi = ABI::V6;
    Ruleset::default()
        .handle_access(AccessFs::from_all(abi))?
        .handle_access(AccessNet::BindTcp | AccessNet::ConnectTcp)?
        .scope(Scope::AbstractUnixSocket | Scope::Signal)?
        .create()?
        .add_rules(path_beneath_rules(["/"], AccessFs::from_read(abi)))?
        .add_rules(path_beneath_rules([dir], AccessFs::from_all(abi)))?
        .add_rules(path_beneath_rules(
            ["/dev/null", "/dev/zero"],
            AccessFs::from_file(abi),
        ))?
        .restrict_self()
}

/// In a rehearsal's process: a further Landlock layer, so it writes only in
/// its own copy of the workspace (`dir`); whether it is enforced.
pub fn rehearsal_writes_only_in(dir: &Path) -> bool {
    writes_only_in(dir).is_ok_and(|s| s.ruleset != RulesetStatus::NotEnforced)
}

fn landlock_restrict(workspace: &Path, out: &mut Vec<Protection>) {
    let result = writes_only_in(workspace);
    match result {
        Ok(status) => {
            let active = status.ruleset != RulesetStatus::NotEnforced;
            let how = match status.ruleset {
                RulesetStatus::FullyEnforced => "fully enforced",
                RulesetStatus::PartiallyEnforced => "partly enforced (older kernel)",
                RulesetStatus::NotEnforced => "not supported by this kernel",
            };
            out.push(protection(
                "filesystem",
                active,
                format!(
                    "Landlock {how}: read anywhere, write only in {}",
                    workspace.display()
                ),
            ));
            out.push(protection(
                "tcp",
                active,
                format!("Landlock {how}: no TCP connect or bind; no signals or abstract sockets outside the worker"),
            ));
        }
        Err(e) => out.push(protection(
            "filesystem",
            false,
            format!("Landlock failed: {e}; the worker can write wherever its user can"),
        )),
    }
}

/// Drops every capability, so even a root worker cannot raise its limits,
/// leave its cgroup, mount, or trace.
fn drop_capabilities(out: &mut Vec<Protection>) {
    let last_cap = fs::read_to_string("/proc/sys/kernel/cap_last_cap")
        .ok()
        .and_then(|s| s.trim().parse::<libc::c_ulong>().ok())
        .unwrap_or(40);
    for cap in 0..=last_cap {
        // SAFETY: prctl with integer arguments only.
        unsafe { libc::prctl(libc::PR_CAPBSET_DROP, cap, 0, 0, 0) };
    }
    // SAFETY: integer arguments only.
    unsafe {
        libc::prctl(
            libc::PR_CAP_AMBIENT,
            libc::PR_CAP_AMBIENT_CLEAR_ALL,
            0,
            0,
            0,
        )
    };
    #[repr(C)]
    struct Header {
        version: u32,
        pid: i32,
    }
    #[repr(C)]
    struct Data {
        effective: u32,
        permitted: u32,
        inheritable: u32,
    }
    let header = Header {
        version: 0x2008_0522, // _LINUX_CAPABILITY_VERSION_3
        pid: 0,
    };
    let data = [
        Data {
            effective: 0,
            permitted: 0,
            inheritable: 0,
        },
        Data {
            effective: 0,
            permitted: 0,
            inheritable: 0,
        },
    ];
    // SAFETY: header and data are valid for the v3 ABI (two data structs).
    let rc = unsafe { libc::syscall(libc::SYS_capset, &header, data.as_ptr()) };
    out.push(if rc == 0 {
        protection("capabilities", true, "all capabilities dropped")
    } else {
        protection(
            "capabilities",
            false,
            format!("capset failed: {}", std::io::Error::last_os_error()),
        )
    });
}
