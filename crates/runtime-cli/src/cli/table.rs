//! The command line as data: one table of flags per command, from which the
//! parser works and the help text is printed. Names, shorts and aliases are
//! runc's (engines pass them unchanged).

/// One `--flag`: a switch, or an option taking a value.
#[derive(Debug)]
pub struct Flag {
    pub long: &'static str,
    pub short: Option<char>,
    pub aliases: &'static [&'static str],
    /// The value's name in help (`DIR`), or `None` for a switch.
    pub value: Option<&'static str>,
    /// May be given more than once; every value is kept.
    pub repeat: bool,
    /// The value may start with `-` (such as `-1` for "unlimited").
    pub hyphen_value: bool,
    pub help: &'static str,
}

impl Flag {
    const fn new(long: &'static str, short: Option<char>, help: &'static str) -> Flag {
        Flag {
            long,
            short,
            aliases: &[],
            value: None,
            repeat: false,
            hyphen_value: false,
            help,
        }
    }

    const fn takes(mut self, value: &'static str) -> Flag {
        self.value = Some(value);
        self
    }

    const fn short(mut self, short: char) -> Flag {
        self.short = Some(short);
        self
    }

    const fn repeated(mut self) -> Flag {
        self.repeat = true;
        self
    }

    const fn negative_ok(mut self) -> Flag {
        self.hyphen_value = true;
        self
    }

    const fn alias(mut self, aliases: &'static [&'static str]) -> Flag {
        self.aliases = aliases;
        self
    }

    pub fn matches_long(&self, name: &str) -> bool {
        self.long == name || self.aliases.contains(&name)
    }
}

/// A positional argument. A trailing one takes every remaining argument
/// verbatim once it starts (exec's command, ps's options for ps(1)).
#[derive(Debug)]
pub struct Positional {
    pub name: &'static str,
    pub required: bool,
    pub trailing: bool,
}

/// One subcommand.
#[derive(Debug)]
pub struct CommandSpec {
    pub name: &'static str,
    pub about: &'static str,
    pub positionals: &'static [Positional],
    pub flags: &'static [Flag],
}

const fn switch(long: &'static str, short: Option<char>, help: &'static str) -> Flag {
    Flag::new(long, short, help)
}

const fn option(long: &'static str, value: &'static str, help: &'static str) -> Flag {
    Flag::new(long, None, help).takes(value)
}

const ID: Positional = Positional {
    name: "ID",
    required: true,
    trailing: false,
};
const ID_ONLY: &[Positional] = &[ID];

/// Accepted before the subcommand and, like runc, after it too.
pub const GLOBAL_FLAGS: &[Flag] = &[
    option(
        "root",
        "DIR",
        "Directory holding the state of containers [default: /run/brig-runtime, or $XDG_RUNTIME_DIR/brig-runtime when not root]",
    ),
    option("log", "FILE", "Also write errors to this file"),
    option(
        "log-format",
        "text|json",
        "Format of --log lines [default: text]",
    ),
    switch("debug", None, "Accepted for compatibility with runc"),
    switch(
        "systemd-cgroup",
        None,
        "Manage cgroups through systemd (not supported yet)",
    ),
];

/// Accepted only before the subcommand (`spec --rootless` is spec's own switch).
pub const TOP_FLAGS: &[Flag] = &[option(
    "rootless",
    "true|false|auto",
    "Accepted for compatibility with runc; rootless mode is detected",
)];

const CREATE_FLAGS: &[Flag] = &[
    option(
        "bundle",
        "DIR",
        "Bundle directory (config.json and rootfs) [default: .]",
    )
    .short('b'),
    option(
        "pid-file",
        "FILE",
        "Write the container's init pid to this file",
    ),
    option(
        "console-socket",
        "SOCKET",
        "Unix socket that receives the pty master when process.terminal is true",
    ),
    switch(
        "no-pivot",
        None,
        "Use chroot instead of pivot_root (for a ramdisk root)",
    ),
    switch(
        "no-new-keyring",
        None,
        "Do not create a new session keyring for the container",
    ),
    option(
        "preserve-fds",
        "N",
        "Pass this many extra descriptors (from 3 on) to the container [default: 0]",
    ),
];

const RUN_FLAGS: &[Flag] = &[
    switch("detach", Some('d'), "Return once the container started"),
    switch(
        "keep",
        None,
        "Accepted for compatibility with runc (ignored)",
    ),
];

const FORMAT: Flag = option("format", "table|json", "Output format [default: table]").short('f');

const EXEC_FLAGS: &[Flag] = &[
    option(
        "process",
        "FILE",
        "A JSON process spec (config.json's \"process\" object)",
    )
    .short('p'),
    switch("tty", Some('t'), "Allocate a pseudo-terminal"),
    option(
        "console-socket",
        "SOCKET",
        "Unix socket that receives the pty master with --tty",
    ),
    switch("detach", Some('d'), "Return once the process started"),
    option("pid-file", "FILE", "Write the process's pid to this file"),
    option("cwd", "DIR", "Working directory in the container"),
    option(
        "env",
        "KEY=VALUE",
        "Set an environment variable (repeatable)",
    )
    .short('e')
    .repeated(),
    option("user", "UID[:GID]", "Run as this user").short('u'),
    option("additional-gids", "GID", "Additional group id (repeatable)")
        .short('g')
        .repeated(),
    switch(
        "no-new-privs",
        None,
        "Set no_new_privileges for the process",
    ),
    option("cap", "CAP_X", "Add a capability (repeatable)")
        .short('c')
        .repeated(),
    option(
        "preserve-fds",
        "N",
        "Pass this many extra descriptors (from 3 on) [default: 0]",
    ),
    option("apparmor", "PROFILE", "AppArmor profile for the process"),
    option("process-label", "LABEL", "SELinux label for the process"),
];

const UPDATE_FLAGS: &[Flag] = &[
    option(
        "resources",
        "FILE",
        "A JSON file with the new linux.resources (- for stdin); the other flags are then ignored",
    )
    .short('r'),
    option(
        "memory",
        "BYTES",
        "Memory limit (units like 32m allowed; -1 for unlimited)",
    )
    .negative_ok(),
    option("memory-reservation", "BYTES", "Memory soft limit").negative_ok(),
    option(
        "memory-swap",
        "BYTES",
        "Memory plus swap; -1 for unlimited swap",
    )
    .negative_ok(),
    option(
        "kernel-memory",
        "BYTES",
        "Accepted and ignored (kernel memory limits are obsolete)",
    )
    .negative_ok(),
    option(
        "kernel-memory-tcp",
        "BYTES",
        "Accepted and ignored, like --kernel-memory",
    )
    .negative_ok(),
    option(
        "cpu-quota",
        "USEC",
        "CFS quota in microseconds per period (-1 for none)",
    )
    .negative_ok(),
    option("cpu-period", "USEC", "CFS period in microseconds").negative_ok(),
    option("cpu-shares", "N", "CPU shares (relative weight)")
        .alias(&["cpu-share"])
        .negative_ok(),
    option(
        "cpu-rt-period",
        "USEC",
        "Realtime period in microseconds (cgroup v1)",
    )
    .negative_ok(),
    option(
        "cpu-rt-runtime",
        "USEC",
        "Realtime runtime in microseconds per period (cgroup v1)",
    )
    .negative_ok(),
    option("cpuset-cpus", "LIST", "CPUs to use, e.g. 0-1,3"),
    option("cpuset-mems", "LIST", "Memory nodes to use, e.g. 0"),
    option(
        "pids-limit",
        "N",
        "Maximum number of processes (-1 for unlimited)",
    )
    .negative_ok(),
    option("blkio-weight", "N", "Block I/O weight, 10 to 1000").negative_ok(),
    option("l3-cache-schema", "SCHEMA", "Intel RDT (not supported)"),
    option("mem-bw-schema", "SCHEMA", "Intel RDT (not supported)"),
];

pub const COMMANDS: &[CommandSpec] = &[
    CommandSpec {
        name: "spec",
        about: "Write a default config.json",
        positionals: &[],
        flags: &[
            option(
                "bundle",
                "DIR",
                "Directory to write config.json to [default: .]",
            )
            .short('b'),
            switch(
                "rootless",
                None,
                "A config for an unprivileged user (user namespace mapping the caller to root)",
            ),
        ],
    },
    CommandSpec {
        name: "create",
        about: "Create a container: its process waits for `start`",
        positionals: ID_ONLY,
        flags: CREATE_FLAGS,
    },
    CommandSpec {
        name: "start",
        about: "Start the program of a created container",
        positionals: ID_ONLY,
        flags: &[],
    },
    CommandSpec {
        name: "run",
        about: "Create and start a container; in the foreground, wait for it and exit with its status",
        positionals: ID_ONLY,
        // create's flags, then run's own (see `flags_of`).
        flags: RUN_FLAGS,
    },
    CommandSpec {
        name: "state",
        about: "Print the state of a container as JSON",
        positionals: ID_ONLY,
        flags: &[],
    },
    CommandSpec {
        name: "kill",
        about: "Send a signal (default TERM) to the container's init, or with --all to all its processes",
        positionals: &[
            ID,
            Positional {
                name: "SIGNAL",
                required: false,
                trailing: false,
            },
        ],
        flags: &[switch(
            "all",
            Some('a'),
            "Signal every process of the container",
        )],
    },
    CommandSpec {
        name: "delete",
        about: "Delete a container (and its processes with --force)",
        positionals: ID_ONLY,
        flags: &[switch("force", Some('f'), "Kill a running container first")],
    },
    CommandSpec {
        name: "list",
        about: "List containers",
        positionals: &[],
        flags: &[FORMAT, switch("quiet", Some('q'), "Print only the ids")],
    },
    CommandSpec {
        name: "ps",
        about: "List the processes of a container",
        positionals: &[
            ID,
            Positional {
                name: "PS_ARGS",
                required: false,
                trailing: true,
            },
        ],
        flags: &[FORMAT],
    },
    CommandSpec {
        name: "exec",
        about: "Run a new process in a running container",
        positionals: &[
            ID,
            Positional {
                name: "COMMAND",
                required: false,
                trailing: true,
            },
        ],
        flags: EXEC_FLAGS,
    },
    CommandSpec {
        name: "features",
        about: "Print the features this runtime supports, as JSON",
        positionals: &[],
        flags: &[],
    },
    CommandSpec {
        name: "update",
        about: "Change the resource limits of a container",
        positionals: ID_ONLY,
        flags: UPDATE_FLAGS,
    },
    CommandSpec {
        name: "pause",
        about: "Freeze every process of a running container",
        positionals: ID_ONLY,
        flags: &[],
    },
    CommandSpec {
        name: "resume",
        about: "Thaw a paused container",
        positionals: ID_ONLY,
        flags: &[],
    },
    CommandSpec {
        name: "events",
        about: "Print the container's events (oom, and stats every interval) as JSON lines until it stops",
        positionals: ID_ONLY,
        flags: &[
            switch("stats", None, "Print the statistics once and exit"),
            option(
                "interval",
                "DURATION",
                "How often to print statistics (e.g. 5s, 500ms, 1m) [default: 5s]",
            ),
        ],
    },
];

/// The flags a command accepts after its name, in help order: its own
/// (run adds create's), then the global ones.
pub fn flags_of(command: &CommandSpec) -> impl Iterator<Item = &'static Flag> {
    let create: &'static [Flag] = if command.name == "run" {
        CREATE_FLAGS
    } else {
        &[]
    };
    create
        .iter()
        .chain(command.flags.iter())
        .chain(GLOBAL_FLAGS.iter())
}

pub fn find_command(name: &str) -> Option<&'static CommandSpec> {
    COMMANDS.iter().find(|c| c.name == name)
}
