# Everyday commands (https://github.com/casey/just). Each recipe is a thin alias for a script,
# so everything also works without just installed.

# Start the demo system on the embedded defaults (SQLite, no external services).
demo *ARGS:
    ./scripts/demo {{ARGS}}

# Run every test (the README's test command; CI runs this too).
test:
    ./scripts/test

# Formatting and lints, as CI checks them.
check:
    cargo fmt --all -- --check
    cargo clippy --workspace --all-targets --locked -- -D warnings
    cargo clippy --workspace --all-targets --all-features --locked -- -D warnings

# The chaos run, long: SIGKILLs under load, then every check (docs/reliability.md "Chaos").
chaos *ARGS:
    ./scripts/chaos {{ARGS}}

# Everything CI does.
ci:
    ./.ci/run

# Send the demo's first command (the demo must be running).
send-demo:
    ./target/debug/angzarr send customer alice@example.com CreateCustomer '{"name":"Alice","email":"alice@example.com"}'

# The benchmark report (docs/benchmarks.md).
bench *ARGS:
    ./scripts/bench {{ARGS}}
