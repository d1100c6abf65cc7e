//! The command line: `check`, `pack test`, `pack lint`.

use crate::app::evaluate::{Decide, decide};
use crate::{hub, output, packdir};
mod audit;
mod keys;

use clap::{Args, CommandFactory, FromArgMatches, Parser, Subcommand, ValueEnum};
use modelgate_engine::context::{Deployment, Modification, Purpose, UseContext};
use modelgate_engine::{Decision, Format, Pack, ParseOptions, Verdict};
use std::io::Read;
use std::path::{Path, PathBuf};

/// Exit codes (sysexits-style where they apply).
pub mod exit {
    pub const ALLOW: i32 = 0;
    pub const DENY: i32 = 1;
    pub const REVIEW: i32 = 2;
    pub const USAGE: i32 = 64;
    pub const DATA_ERR: i32 = 65;
    /// Input not found; for `hf:` references: the model or revision is not on the Hub.
    pub const NO_INPUT: i32 = 66;
    /// The Hugging Face Hub is unreachable or failed after every retry.
    pub const UNAVAILABLE: i32 = 69;
    pub const INTERNAL: i32 = 70;
    /// The Hub's answer is not what its API promises.
    pub const PROTOCOL: i32 = 76;
    /// The Hub refused access: a gated or private repository, or a refused token.
    pub const NO_PERM: i32 = 77;
}

/// Default limit on the size of an input document (10 MiB).
pub const DEFAULT_MAX_BYTES: u64 = modelgate_engine::ingest::DEFAULT_MAX_BYTES;

#[derive(Parser, Debug)]
#[command(
    name = "modelgate",
    version,
    about = "Policy and licence compliance for open AI models"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Evaluate one metadata document and print the decision: a Hugging Face model card,
    /// a CycloneDX 1.5-1.7 ML-BOM (JSON), an SPDX 3.0 AI document (JSON-LD), a Model
    /// Openness Framework YAML file or modelgate's native JSON record; or a model fetched
    /// from the Hugging Face Hub (`hf:<org>/<name>[@<revision>]`). A document that
    /// describes several models gets one decision per model and the worst verdict overall.
    ///
    /// Exit codes (from the worst verdict): 0 allow or conditional, 1 deny, 2 review,
    /// 64 usage error (or an invalid hf: reference), 65 malformed or unsupported input,
    /// 66 input not found (or model/revision not on the Hub), 69 Hub unreachable,
    /// 70 internal error, 76 unexpected Hub answer, 77 gated or private repository, or
    /// token refused (set HF_TOKEN after accepting the licence on the model page).
    Check(Box<CheckArgs>),
    /// Rule pack tools.
    #[command(subcommand)]
    Pack(PackCommand),
    /// Run the HTTP service (SQLite in the data directory, or Postgres with DATABASE_URL).
    ///
    /// Configuration: flags > environment (MODELGATE_BIND, MODELGATE_DATA_DIR, DATABASE_URL,
    /// MODELGATE_WORKERS, MODELGATE_LOG_FORMAT) > --config FILE > defaults. The database:
    /// --data-dir, else DATABASE_URL (postgres://user:password@host:port/db or sqlite:PATH),
    /// else MODELGATE_DATA_DIR, else the file's database_url, then its data_dir, else
    /// ./modelgate-data. Applies the migrations and registers the built-in rule pack at
    /// start. Stops gracefully on SIGTERM/SIGINT (in-flight requests finish, up to 30 s).
    ///
    /// Exit codes: 0 stopped by a signal, 64 bad flag, variable or config file, 69 the
    /// database cannot be opened or the address cannot be bound.
    Serve(crate::serve::ServeArgs),
    /// Apply the database migrations and exit (serve also applies them at start).
    ///
    /// The database is chosen as for serve: --data-dir, else DATABASE_URL, else
    /// MODELGATE_DATA_DIR, else the --config file's database_url or data_dir, else
    /// ./modelgate-data. Exit codes: 0 done, 64 bad configuration, 69 the database cannot
    /// be opened or migrated.
    Migrate(crate::serve::DbArgs),
    /// The audit log: print the verifier key, verify the log in the database, or check an
    /// evidence bundle offline.
    #[command(subcommand)]
    Audit(audit::AuditCommand),
    /// API keys: create (prints the key once), list, revoke. Same database configuration as
    /// serve.
    #[command(subcommand)]
    Keys(keys::KeysCommand),
}

impl Command {
    /// The database settings of a command that opens the database.
    fn db_args_mut(&mut self) -> Option<&mut crate::serve::DbArgs> {
        match self {
            Command::Serve(a) => Some(&mut a.db),
            Command::Migrate(a) => Some(a),
            Command::Audit(c) => c.db_args_mut(),
            Command::Keys(c) => c.db_args_mut(),
            _ => None,
        }
    }
}

#[derive(Subcommand, Debug)]
pub enum PackCommand {
    /// Run a pack's own tests (rules/tests/*.yaml). Exit 0 when all pass, 1 otherwise.
    Test {
        /// Pack directory (default: the pack built into the binary).
        dir: Option<PathBuf>,
        #[arg(long, value_enum, default_value_t = ReportFormat::Text)]
        output: ReportFormat,
    },
    /// Validate a pack: schemas, ids, CEL conditions and the paths they read. Exit 0 when valid, 65 otherwise.
    Lint {
        /// Pack directory (default: the pack built into the binary).
        dir: Option<PathBuf>,
    },
}

#[derive(Copy, Clone, Debug, PartialEq, Eq, ValueEnum)]
pub enum ReportFormat {
    Text,
    Json,
}

#[derive(Copy, Clone, Debug, PartialEq, Eq, ValueEnum)]
pub enum OutputFormat {
    Text,
    Json,
    Sarif,
}

#[derive(Copy, Clone, Debug, PartialEq, Eq, ValueEnum)]
pub enum FormatArg {
    /// Detect the format from the content.
    Auto,
    /// Hugging Face model card (README.md, YAML front matter).
    HfCard,
    /// modelgate's model record (JSON).
    Native,
    /// CycloneDX 1.5, 1.6 or 1.7 ML-BOM (JSON).
    Cyclonedx,
    /// SPDX 3.0 JSON-LD with the AI profile.
    Spdx3,
    /// Model Openness Framework YAML (Model Openness Tool).
    Mof,
}

impl FormatArg {
    /// The engine's format; `None` to detect it.
    pub fn format(self) -> Option<Format> {
        match self {
            FormatArg::Auto => None,
            FormatArg::HfCard => Some(Format::HfCard),
            FormatArg::Native => Some(Format::Native),
            FormatArg::Cyclonedx => Some(Format::Cyclonedx),
            FormatArg::Spdx3 => Some(Format::Spdx3),
            FormatArg::Mof => Some(Format::Mof),
        }
    }
}

#[derive(Args, Debug)]
pub struct CheckArgs {
    /// The document: a path, `-` for standard input, or `hf:<org>/<name>[@<revision>]` to
    /// fetch the model's card, files and gating from the Hugging Face Hub (its base models
    /// too, through `base_model`). The revision is a branch, tag or commit; the decision
    /// records the exact commit. Environment: HF_TOKEN (sent as a bearer token, never
    /// printed), MODELGATE_HF_ENDPOINT, MODELGATE_CACHE_DIR.
    pub input: String,
    /// Use context file (YAML or JSON) with the fields purpose, deployment,
    /// monthly_active_users, annual_revenue_usd, regions, domicile, domains,
    /// modification, distribute_weights, train_on_outputs. Flags override it.
    #[arg(long, value_name = "FILE")]
    pub context: Option<PathBuf>,
    /// Intended purpose [default: commercial].
    #[arg(long, value_parser = clap::builder::PossibleValuesParser::new(Purpose::ALL))]
    pub purpose: Option<String>,
    /// Deployment [default: saas].
    #[arg(long, value_parser = clap::builder::PossibleValuesParser::new(Deployment::ALL))]
    pub deployment: Option<String>,
    /// Monthly active users of the product [default: 0].
    #[arg(long, value_name = "N")]
    pub mau: Option<i64>,
    /// Annual revenue in USD [default: 0].
    #[arg(long, value_name = "USD")]
    pub revenue: Option<i64>,
    /// Where it is deployed: ISO 3166-1 alpha-2 code or EU (repeatable).
    #[arg(long = "region", value_name = "CODE")]
    pub regions: Vec<String>,
    /// Where the adopting organisation is based: ISO code or EU.
    #[arg(long, value_name = "CODE")]
    pub domicile: Option<String>,
    /// Intended use domain from the use-category vocabulary, e.g. medical_advice (repeatable).
    #[arg(long = "domain", value_name = "CATEGORY")]
    pub domains: Vec<String>,
    /// Planned modification [default: none].
    #[arg(long, value_parser = clap::builder::PossibleValuesParser::new(Modification::ALL))]
    pub modification: Option<String>,
    /// The weights (or modified weights) will be distributed to others.
    #[arg(long)]
    pub distribute_weights: bool,
    /// The model's outputs will be used to train other models.
    #[arg(long)]
    pub train_on_outputs: bool,
    /// Rule pack directory [default: the pack built into the binary].
    #[arg(long, value_name = "DIR")]
    pub pack: Option<PathBuf>,
    /// Waivers to apply (YAML or JSON list of {id, model_ref (exact or prefix*), rule_id,
    /// profile?, expires_at, revoked_at?}; times RFC 3339 or dates). Expired or revoked ones
    /// never apply; a waived finding stays in the output, marked waived.
    #[arg(long, value_name = "FILE")]
    pub waivers: Option<PathBuf>,
    /// Input format.
    #[arg(long, value_enum, default_value_t = FormatArg::Auto)]
    pub format: FormatArg,
    /// Output format.
    #[arg(long, value_enum, default_value_t = OutputFormat::Text)]
    pub output: OutputFormat,
    /// Model reference (hf:org/name[@revision] or name@version) when the document does not name the model.
    #[arg(long, value_name = "REF")]
    pub model_ref: Option<String>,
    /// Refuse documents (and Hub cards) larger than this many bytes.
    #[arg(long, value_name = "BYTES", default_value_t = DEFAULT_MAX_BYTES)]
    pub max_bytes: u64,
    /// Hub endpoint for hf: references [default: https://huggingface.co].
    #[arg(long, value_name = "URL", env = "MODELGATE_HF_ENDPOINT")]
    pub hf_endpoint: Option<String>,
    /// Cache of Hub responses, by commit [default: $XDG_CACHE_HOME/modelgate/hub or
    /// ~/.cache/modelgate/hub].
    #[arg(long, value_name = "DIR", env = "MODELGATE_CACHE_DIR")]
    pub cache_dir: Option<PathBuf>,
    /// Neither read nor write the Hub cache: fetch everything again.
    #[arg(long)]
    pub no_cache: bool,
}

/// An error that ends the command, with its exit code.
#[derive(Debug)]
pub struct Failure {
    pub code: i32,
    pub message: String,
}

impl Failure {
    fn new(code: i32, message: impl Into<String>) -> Failure {
        Failure {
            code,
            message: message.into(),
        }
    }
}

/// Runs the CLI with the process arguments; returns the exit code.
pub fn main() -> i32 {
    run(
        std::env::args_os(),
        &mut std::io::stdout(),
        &mut std::io::stderr(),
    )
}

/// Runs the CLI with the process environment; output and errors go to the writers given.
pub fn run<I, T>(args: I, out: &mut dyn std::io::Write, err: &mut dyn std::io::Write) -> i32
where
    I: IntoIterator<Item = T>,
    T: Into<std::ffi::OsString> + Clone,
{
    run_with_env(args, &|k| std::env::var(k).ok(), out, err)
}

/// The command line with each argument's environment variable (`#[arg(env)]`) read from
/// `env` as well: clap reads the process environment itself, and `env` (the same, except
/// in tests) sets the argument's default. A variable set but empty counts as unset.
fn with_env(cmd: clap::Command, env: &dyn Fn(&str) -> Option<String>) -> clap::Command {
    cmd.mut_args(|arg| {
        let value = arg
            .get_env()
            .and_then(|name| name.to_str())
            .and_then(env)
            .filter(|v| !v.trim().is_empty());
        match value {
            Some(v) => arg.default_value(v),
            None => arg,
        }
    })
    .mut_subcommands(|sub| with_env(sub, env))
}

/// Whether argument `id` of the innermost subcommand was given as a flag (not by its
/// variable or default).
fn on_command_line(m: &clap::ArgMatches, id: &str) -> bool {
    match m.subcommand() {
        Some((_, sub)) => on_command_line(sub, id),
        None => {
            m.try_contains_id(id).is_ok()
                && m.value_source(id) == Some(clap::parser::ValueSource::CommandLine)
        }
    }
}

/// Parses a command line, with the environment variables that `env` returns.
pub fn parse_with_env<I, T>(
    args: I,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<Cli, clap::Error>
where
    I: IntoIterator<Item = T>,
    T: Into<std::ffi::OsString> + Clone,
{
    use clap::error::ErrorKind;
    let args: Vec<std::ffi::OsString> = args.into_iter().map(Into::into).collect();
    let m = match with_env(Cli::command(), env).try_get_matches_from(&args) {
        Ok(m) => m,
        Err(e)
            if matches!(
                e.kind(),
                ErrorKind::InvalidValue | ErrorKind::ValueValidation
            ) =>
        {
            return Err(variable_error(&args, env).unwrap_or(e));
        }
        Err(e) => return Err(e),
    };
    let mut cli = Cli::from_arg_matches(&m)?;
    if let Some(db) = cli.command.db_args_mut() {
        db.data_dir_flag = on_command_line(&m, "data_dir");
    }
    Ok(cli)
}

/// When the command line parses without the environment: the error of the first variable
/// its command refuses, naming the variable (clap's own error names only the flag).
fn variable_error(
    args: &[std::ffi::OsString],
    env: &dyn Fn(&str) -> Option<String>,
) -> Option<clap::Error> {
    fn without_env(cmd: clap::Command) -> clap::Command {
        cmd.mut_args(|a| a.env(None)).mut_subcommands(without_env)
    }
    let bare = without_env(Cli::command());
    let matches = bare.clone().try_get_matches_from(args).ok()?;
    // The innermost subcommand: its matches, and its arguments with their variables.
    let (mut m, mut cmd) = (&matches, Cli::command());
    while let Some((name, sub)) = m.subcommand() {
        cmd = cmd.find_subcommand(name)?.clone();
        m = sub;
    }
    for arg in cmd.get_arguments() {
        let (Some(var), Some(long)) = (arg.get_env().and_then(|v| v.to_str()), arg.get_long())
        else {
            continue;
        };
        if m.value_source(arg.get_id().as_str()) == Some(clap::parser::ValueSource::CommandLine) {
            continue;
        }
        let Some(value) = env(var).filter(|v| !v.trim().is_empty()) else {
            continue;
        };
        // The variable's value as if it were the flag's.
        let mut with_flag = args.to_vec();
        with_flag.push(format!("--{long}={value}").into());
        if let Err(e) = bare.clone().try_get_matches_from(&with_flag) {
            let rendered = e.to_string();
            let first = rendered.lines().next().unwrap_or_default();
            let reason = first.strip_prefix("error: ").unwrap_or(first);
            return Some(clap::Error::raw(e.kind(), format!("{var}: {reason}\n")));
        }
    }
    None
}

/// Runs the CLI with the environment variables that `env` returns (tests pass their own
/// instead of changing the process environment).
pub fn run_with_env<I, T>(
    args: I,
    env: &dyn Fn(&str) -> Option<String>,
    out: &mut dyn std::io::Write,
    err: &mut dyn std::io::Write,
) -> i32
where
    I: IntoIterator<Item = T>,
    T: Into<std::ffi::OsString> + Clone,
{
    let cli = match parse_with_env(args, env) {
        Ok(c) => c,
        Err(e) => {
            use clap::error::ErrorKind;
            let code = match e.kind() {
                ErrorKind::DisplayHelp
                | ErrorKind::DisplayVersion
                | ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand => {
                    let _ = write!(out, "{}", e.render());
                    return if e.kind() == ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand {
                        exit::USAGE
                    } else {
                        exit::ALLOW
                    };
                }
                _ => exit::USAGE,
            };
            let _ = write!(err, "{}", e.render());
            return code;
        }
    };
    let result = match cli.command {
        Command::Check(a) => check(&a, env, out, err),
        Command::Pack(PackCommand::Test { dir, output }) => pack_test(dir.as_deref(), output, out),
        Command::Pack(PackCommand::Lint { dir }) => pack_lint(dir.as_deref(), out),
        Command::Serve(a) => serve(&a, env, err),
        Command::Migrate(a) => migrate(&a, env, out),
        Command::Audit(c) => audit::run(&c, env, out),
        Command::Keys(c) => keys::run(&c, env, out),
    };
    match result {
        Ok(code) => code,
        Err(f) => {
            let _ = writeln!(err, "modelgate: {}", f.message);
            f.code
        }
    }
}

fn load_pack(dir: Option<&Path>) -> Result<Pack, Failure> {
    match dir {
        None => packdir::builtin()
            .map_err(|e| Failure::new(exit::INTERNAL, format!("built-in: {}", problem_list(&e)))),
        Some(d) => packdir::load_dir(d).map_err(|e| match e {
            packdir::PackDirError::Io { .. } => Failure::new(exit::NO_INPUT, e.to_string()),
            packdir::PackDirError::Invalid(p) => Failure::new(exit::DATA_ERR, problem_list(&p)),
        }),
    }
}

/// A refused pack: one problem per line, each naming its file.
fn problem_list(e: &modelgate_engine::PackError) -> String {
    let mut s = format!(
        "the rule pack is invalid ({} problem(s)):",
        e.problems.len()
    );
    for p in &e.problems {
        s.push_str(&format!("\n  {}: {}", p.file, p.message));
    }
    s
}

fn read_input(input: &str, max: u64) -> Result<Vec<u8>, Failure> {
    let mut buf = Vec::new();
    if input == "-" {
        std::io::stdin()
            .take(max + 1)
            .read_to_end(&mut buf)
            .map_err(|e| {
                Failure::new(exit::NO_INPUT, format!("cannot read standard input: {e}"))
            })?;
    } else {
        let f = std::fs::File::open(input)
            .map_err(|e| Failure::new(exit::NO_INPUT, format!("cannot open {input}: {e}")))?;
        if let Ok(m) = f.metadata() {
            if m.is_dir() {
                return Err(Failure::new(
                    exit::NO_INPUT,
                    format!("{input} is a directory, not a document"),
                ));
            }
            if m.len() > max {
                return Err(Failure::new(
                    exit::DATA_ERR,
                    format!(
                        "{input} is {} bytes, over the limit of {max} bytes (--max-bytes)",
                        m.len()
                    ),
                ));
            }
        }
        f.take(max + 1)
            .read_to_end(&mut buf)
            .map_err(|e| Failure::new(exit::NO_INPUT, format!("cannot read {input}: {e}")))?;
    }
    if buf.len() as u64 > max {
        return Err(Failure::new(
            exit::DATA_ERR,
            format!("the document is over the limit of {max} bytes (--max-bytes)"),
        ));
    }
    Ok(buf)
}

/// Builds the use context: the file (if any), then flags on top.
pub fn build_context(a: &CheckArgs, use_categories: &[String]) -> Result<UseContext, Failure> {
    let mut ctx = match &a.context {
        None => UseContext::default(),
        Some(p) => {
            let bytes = std::fs::read(p).map_err(|e| {
                Failure::new(
                    exit::NO_INPUT,
                    format!("cannot read context file {}: {e}", p.display()),
                )
            })?;
            serde_norway::from_slice::<UseContext>(&bytes).map_err(|e| {
                Failure::new(exit::USAGE, format!("context file {}: {e}", p.display()))
            })?
        }
    };
    if let Some(p) = &a.purpose {
        ctx.purpose = Purpose::parse(p).unwrap_or_default();
    }
    if let Some(d) = &a.deployment {
        ctx.deployment = Deployment::parse(d).unwrap_or_default();
    }
    if let Some(m) = a.mau {
        ctx.monthly_active_users = m;
    }
    if let Some(r) = a.revenue {
        ctx.annual_revenue_usd = r;
    }
    if !a.regions.is_empty() {
        ctx.regions = a.regions.clone();
    }
    if let Some(d) = &a.domicile {
        ctx.domicile = Some(d.clone());
    }
    if !a.domains.is_empty() {
        ctx.domains = a.domains.clone();
    }
    if let Some(m) = &a.modification {
        ctx.modification = Modification::parse(m).unwrap_or_default();
    }
    ctx.distribute_weights |= a.distribute_weights;
    ctx.train_on_outputs |= a.train_on_outputs;
    ctx.prepare(use_categories)
        .map_err(|e| Failure::new(exit::USAGE, e.to_string()))?;
    Ok(ctx)
}

/// Now, to the second (as evaluations run).
fn now_second() -> modelgate_engine::Timestamp {
    crate::time::second_of(crate::time::now_micros())
}

fn check(
    a: &CheckArgs,
    env: &dyn Fn(&str) -> Option<String>,
    out: &mut dyn std::io::Write,
    err: &mut dyn std::io::Write,
) -> Result<i32, Failure> {
    if a.input.starts_with("hf:") {
        return check_hub(a, env, out, err);
    }
    let pack = load_pack(a.pack.as_deref())?;
    let ctx = build_context(a, pack.use_categories())?;
    let bytes = read_input(&a.input, a.max_bytes)?;
    let opts = ParseOptions {
        model_ref: a.model_ref.clone(),
        max_bytes: a.max_bytes,
    };
    let records = pack
        .parse_all(&bytes, a.format.format(), &opts)
        .map_err(|e| Failure::new(exit::DATA_ERR, e.to_string()))?;
    let digest = modelgate_engine::input_digest(&bytes, &ctx);
    let now = now_second();
    let waivers = read_waivers(a.waivers.as_deref())?;
    // Each model of the document, with the others as its known ancestors.
    let decisions: Vec<Decision> = (0..records.len())
        .map(|i| {
            let rec = &records[i];
            decide(&Decide {
                pack: &pack,
                record: rec,
                ancestors: &modelgate_engine::record::others(&records, i),
                model_ref: a.model_ref.as_deref().unwrap_or(&rec.id),
                profile: None,
                context: &ctx,
                input_digest: digest.as_str(),
                waivers: &waivers,
                now,
            })
        })
        .collect();
    print_decisions(a, &decisions, &pack, &a.input, out)
}

/// A waiver in a `--waivers` file.
#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct WaiverFileEntry {
    id: String,
    model_ref: String,
    rule_id: String,
    #[serde(default)]
    profile: Option<String>,
    expires_at: String,
    #[serde(default)]
    revoked_at: Option<String>,
    #[serde(default)]
    created_at: Option<String>,
    // Documentation fields, accepted and not used by the evaluation.
    #[serde(default)]
    reason: Option<String>,
    #[serde(default)]
    justification: Option<String>,
    #[serde(default)]
    ticket: Option<String>,
}

fn read_waivers(path: Option<&Path>) -> Result<Vec<modelgate_engine::waiver::Waiver>, Failure> {
    let Some(path) = path else {
        return Ok(Vec::new());
    };
    let bytes = std::fs::read(path).map_err(|e| {
        Failure::new(
            exit::NO_INPUT,
            format!("cannot read {}: {e}", path.display()),
        )
    })?;
    parse_waivers(&bytes)
        .map_err(|e| Failure::new(exit::DATA_ERR, format!("{}: {e}", path.display())))
}

/// The waivers of a `--waivers` file (YAML or JSON: a list of `{id, model_ref, rule_id,
/// profile?, expires_at, revoked_at?, created_at?}`, times as RFC 3339 or dates, taken to
/// the whole second as evaluations are). A waiver that could never apply (a blank rule, a
/// `model_ref` pattern with `*` other than at its end) is refused, as the API refuses it;
/// an expired or revoked one is kept and does not apply. `Err` says what is wrong, and in
/// which waiver.
pub fn parse_waivers(bytes: &[u8]) -> Result<Vec<modelgate_engine::waiver::Waiver>, String> {
    let entries: Vec<WaiverFileEntry> =
        serde_norway::from_slice(bytes).map_err(|e| e.to_string())?;
    let time = |what: &str, id: &str, t: &str| {
        crate::time::parse(t)
            .ok()
            .map(|t| crate::time::second_of(t.as_microsecond()))
            .ok_or_else(|| {
                format!("waiver {id}: `{what}` must be an RFC 3339 time or a date, got `{t}`")
            })
    };
    entries
        .into_iter()
        .map(|e| {
            let _ = (&e.reason, &e.justification, &e.ticket);
            let w = modelgate_engine::waiver::Waiver {
                expires_at: time("expires_at", &e.id, &e.expires_at)?,
                revoked_at: e
                    .revoked_at
                    .as_deref()
                    .map(|t| time("revoked_at", &e.id, t))
                    .transpose()?,
                created_at: e
                    .created_at
                    .as_deref()
                    .map(|t| time("created_at", &e.id, t))
                    .transpose()?,
                id: e.id,
                model_ref: e.model_ref,
                rule_id: e.rule_id,
                profile: e.profile,
            };
            modelgate_engine::waiver::check_scope(&w)
                .map_err(|why| format!("waiver {}: {why}", w.id))?;
            Ok(w)
        })
        .collect()
}

/// Prints one or several decisions; the exit code follows the worst verdict.
fn print_decisions(
    a: &CheckArgs,
    decisions: &[Decision],
    pack: &Pack,
    input: &str,
    out: &mut dyn std::io::Write,
) -> Result<i32, Failure> {
    let rendered = match (a.output, decisions) {
        (OutputFormat::Text, [d]) => output::text(d),
        (OutputFormat::Text, ds) => output::text_many(ds),
        (OutputFormat::Json, [d]) => output::json(d),
        (OutputFormat::Json, ds) => output::json_many(ds),
        (OutputFormat::Sarif, ds) => output::sarif(ds, pack, input),
    };
    out.write_all(rendered.as_bytes())
        .map_err(|e| Failure::new(exit::INTERNAL, format!("cannot write output: {e}")))?;
    Ok(match output::worst(decisions) {
        Verdict::Allow | Verdict::Conditional => exit::ALLOW,
        Verdict::Deny => exit::DENY,
        Verdict::Review => exit::REVIEW,
    })
}

/// The exit code of a Hub failure (each kind has its own).
fn hub_exit(e: &hub::HubError) -> i32 {
    use hub::HubError as E;
    match e {
        E::Usage(_) => exit::USAGE,
        E::NotFound(_) => exit::NO_INPUT,
        E::Malformed(_) | E::TooLarge(_) => exit::DATA_ERR,
        E::Unavailable(_) => exit::UNAVAILABLE,
        E::Protocol(_) => exit::PROTOCOL,
        E::Denied(_) => exit::NO_PERM,
        E::Internal(_) => exit::INTERNAL,
    }
}

/// `check hf:<org>/<name>[@<revision>]`: fetch from the Hub, then evaluate with the
/// fetched base models. The input digest is computed over [`hub::Fetch::digest_document`]
/// (every fetched card with its exact commit) and the use context.
fn check_hub(
    a: &CheckArgs,
    env: &dyn Fn(&str) -> Option<String>,
    out: &mut dyn std::io::Write,
    err: &mut dyn std::io::Write,
) -> Result<i32, Failure> {
    let r = hub::HubRef::parse(&a.input).map_err(|e| Failure::new(hub_exit(&e), e.message()))?;
    if a.model_ref.is_some() {
        return Err(Failure::new(
            exit::USAGE,
            "--model-ref names the model of a document; an hf: reference names the model itself",
        ));
    }
    if a.format == FormatArg::Native {
        return Err(Failure::new(
            exit::USAGE,
            "--format native does not apply to an hf: reference (the Hub serves model cards)",
        ));
    }
    let pack = load_pack(a.pack.as_deref())?;
    let ctx = build_context(a, pack.use_categories())?;
    let cfg = hub::config(
        &hub::Settings {
            endpoint: a.hf_endpoint.as_deref(),
            cache_dir: a.cache_dir.as_deref(),
            no_cache: a.no_cache,
            max_card_bytes: a.max_bytes,
        },
        env,
    )
    .map_err(|e| Failure::new(hub_exit(&e), e.message()))?;
    let token = cfg.client.token.clone();
    let fail = |e: hub::HubError| Failure::new(hub_exit(&e), e.redacted(token.as_ref()));
    let hub = hub::Hub::new(cfg).map_err(fail)?;
    if hub.token_withheld() {
        let _ = writeln!(
            err,
            "modelgate: warning: HF_TOKEN is not sent to a plain-HTTP endpoint that is not this machine"
        );
    }
    let fetched = hub.fetch(&r, &pack).map_err(fail)?;
    for n in &fetched.notes {
        let _ = writeln!(
            err,
            "modelgate: warning: {}",
            hub::redact(n, token.as_ref())
        );
    }
    let digest = modelgate_engine::input_digest(&fetched.digest_document(), &ctx);
    let waivers = read_waivers(a.waivers.as_deref())?;
    let decision = decide(&Decide {
        pack: &pack,
        record: &fetched.model.record,
        ancestors: &fetched.ancestor_records(),
        model_ref: &fetched.model.record.id,
        profile: None,
        context: &ctx,
        input_digest: digest.as_str(),
        waivers: &waivers,
        now: now_second(),
    });
    let input = format!("hf:{}@{}", fetched.model.repo, fetched.model.sha);
    print_decisions(a, std::slice::from_ref(&decision), &pack, &input, out)
}

fn pack_test(
    dir: Option<&Path>,
    fmt: ReportFormat,
    out: &mut dyn std::io::Write,
) -> Result<i32, Failure> {
    let pack = load_pack(dir)?;
    let report = pack.run_tests();
    let text = match fmt {
        ReportFormat::Json => serde_json::to_string_pretty(&report).unwrap_or_default() + "\n",
        ReportFormat::Text => {
            let mut s = String::new();
            for c in &report.cases {
                s.push_str(&format!(
                    "{} {} ({})\n",
                    if c.passed { "ok  " } else { "FAIL" },
                    c.name,
                    c.file
                ));
                for f in &c.failures {
                    s.push_str(&format!("       {f}\n"));
                }
            }
            s.push_str(&format!(
                "pack {} {}: {} passed, {} failed\n",
                pack.manifest.name, pack.manifest.version, report.passed, report.failed
            ));
            s
        }
    };
    out.write_all(text.as_bytes())
        .map_err(|e| Failure::new(exit::INTERNAL, e.to_string()))?;
    Ok(if report.failed == 0 && !report.cases.is_empty() {
        0
    } else {
        1
    })
}

fn pack_lint(dir: Option<&Path>, out: &mut dyn std::io::Write) -> Result<i32, Failure> {
    let pack = load_pack(dir)?;
    let msg = format!(
        "pack {} {} is valid: {} licences, {} base models, {} rules, {} tests; digest {}\n",
        pack.manifest.name,
        pack.manifest.version,
        pack.catalog.len(),
        pack.models.len(),
        pack.rules.len(),
        pack.tests.len(),
        pack.digest
    );
    out.write_all(msg.as_bytes())
        .map_err(|e| Failure::new(exit::INTERNAL, e.to_string()))?;
    Ok(0)
}

fn serve(
    a: &crate::serve::ServeArgs,
    env: &dyn Fn(&str) -> Option<String>,
    log: &mut dyn std::io::Write,
) -> Result<i32, Failure> {
    let cfg = crate::serve::resolve(a, env).map_err(|e| Failure::new(exit::USAGE, e))?;
    // Outside the runtime: the exporter's blocking HTTP client must not live inside it.
    let mut telemetry =
        crate::telemetry::init(&cfg.log_format, env).map_err(|e| Failure::new(exit::USAGE, e))?;
    let served = actix_web::rt::System::new().block_on(crate::serve::serve(cfg));
    if let Err(e) = &served {
        tracing::error!("{e}");
    }
    // Graceful shutdown: the spans still buffered are exported before the process ends.
    if let Err(e) = telemetry.shutdown() {
        let _ = writeln!(log, "modelgate: {e}");
    }
    served.map_err(|e| Failure::new(exit::UNAVAILABLE, e))?;
    Ok(0)
}

fn migrate(
    a: &crate::serve::DbArgs,
    env: &dyn Fn(&str) -> Option<String>,
    out: &mut dyn std::io::Write,
) -> Result<i32, Failure> {
    let db = crate::serve::database_of(a, env).map_err(|e| Failure::new(exit::USAGE, e))?;
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| Failure::new(exit::INTERNAL, e.to_string()))?;
    let applied = rt
        .block_on(async {
            let store = db.open(&crate::store::PoolConfig::default()).await?;
            store.migrate().await?;
            let m = store.migrations();
            store.close().await;
            Ok::<_, crate::store::StoreError>(m)
        })
        .map_err(|e| Failure::new(exit::UNAVAILABLE, format!("{}: {e}", db.describe())))?;
    let last = applied.last().map_or(0, |m| m.0);
    writeln!(
        out,
        "{}: schema at version {last} ({} migration(s))",
        db.describe(),
        applied.len()
    )
    .map_err(|e| Failure::new(exit::INTERNAL, e.to_string()))?;
    Ok(0)
}
