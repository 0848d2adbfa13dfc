//! The end-to-end features (`examples/features/e2e-*.feature`, steps in
//! `examples/features/README.md` "End to end") against `angzarr-standalone` running the whole
//! Rust shop. Each scenario gets a fresh runtime in its own temporary directory; every `Then`
//! step waits until the system has settled before it looks.

use std::path::PathBuf;

use angzarr_proto::{
    AnyExt, CommandBook, CommandPage, CommandResponse, Cover, CoverExt, EventBook, EventPage,
    SyncMode,
};
use cucumber::gherkin::Step;
use cucumber::writer::Stats as _;
use cucumber::{World, cli, given, then, when};
use example_e2e::Shop;
use example_features::cli::options;
use example_features::features::{FeatureFiles, features_dir};
use example_features::matching::{Expected, check_list};
use example_features::registry;
use example_features::values::{
    Placeholders, check_rejection, describe_any, describe_status, message_type, pack,
    parse_message, parse_root, type_of_url, unpack,
};
use prost_reflect::{DynamicMessage, ReflectMessage};
use prost_types::Any;
use tonic::Status;
use uuid::Uuid;

#[derive(World, Default)]
struct ShopWorld {
    shop: Option<Shop>,
    names: Placeholders,
    /// The correlation id commands are sent under (`$C` until a step changes it).
    correlation: Option<String>,
    /// The answer to the last command sent or tried.
    last: Option<Result<CommandResponse, Status>>,
    /// The answer before it.
    previous: Option<Result<CommandResponse, Status>>,
}

impl std::fmt::Debug for ShopWorld {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ShopWorld")
            .field("shop", &self.shop)
            .finish_non_exhaustive()
    }
}

type StepResult = Result<(), String>;

impl ShopWorld {
    fn shop(&self) -> Result<&Shop, String> {
        self.shop
            .as_ref()
            .ok_or_else(|| "the shop is not running: start with `Given the shop is running`".into())
    }

    fn text(&mut self, text: &str) -> String {
        self.names.substitute(text)
    }

    fn root(&mut self, text: &str) -> Result<Uuid, String> {
        let text = self.text(text);
        parse_root(&text)
    }

    fn correlation(&mut self) -> String {
        match &self.correlation {
            Some(id) => id.clone(),
            None => self.names.get("C").to_string(),
        }
    }

    /// The command book for `name` with `json` to the aggregate `root` of `domain`.
    fn command(
        &mut self,
        name: &str,
        domain: &str,
        root: &str,
        json: &str,
    ) -> Result<CommandBook, String> {
        let root = self.root(root)?;
        let json = self.text(json);
        let command = pack(&parse_message(domain, name, &json)?);
        Ok(CommandBook {
            cover: Some(Cover {
                correlation_id: self.correlation(),
                ..Cover::for_root(domain, root)
            }),
            pages: vec![CommandPage {
                sequence: None,
                command: Some(command),
            }],
            ..CommandBook::default()
        })
    }

    /// Sends `book`; an accepted command is remembered as the last answer, a rejection fails.
    async fn send(&mut self, book: CommandBook) -> StepResult {
        let what = describe_command(&book);
        let answer = self.shop()?.execute(book).await;
        match &answer {
            Ok(_) => {
                self.answered(answer);
                Ok(())
            }
            Err(status) => Err(format!(
                "{what} was rejected: {}",
                self.names.restore(&describe_status(status))
            )),
        }
    }

    fn answered(&mut self, answer: Result<CommandResponse, Status>) {
        self.previous = self.last.replace(answer);
    }

    async fn settled(&self) -> Result<&Shop, String> {
        let shop = self.shop()?;
        shop.settle().await.map(|()| shop)
    }

    /// The history of `domain`/`root` as (correlation id, event) pairs, once settled.
    async fn events(&mut self, domain: &str, root: &str) -> Result<Vec<(String, Any)>, String> {
        let root = self.root(root)?;
        let history = self.settled().await?.history(domain, root).await?;
        Ok(history
            .into_iter()
            .filter_map(|(correlation, page)| page.event.map(|event| (correlation, event)))
            .collect())
    }

    fn fail<T>(&self, problem: String) -> Result<T, String> {
        Err(self.names.restore(&problem))
    }
}

fn describe_command(book: &CommandBook) -> String {
    let cover = book.cover.clone().unwrap_or_default();
    let command = book
        .pages
        .first()
        .and_then(|p| p.command.as_ref())
        .map_or_else(|| "<no command>".to_string(), describe_any);
    format!(
        "{command} to {} {}",
        cover.domain,
        cover
            .root_uuid()
            .map_or_else(String::new, |r| r.to_string())
    )
}

/// The table of a step, as rows of trimmed cells.
fn table(step: &Step) -> Result<Vec<Vec<String>>, String> {
    let table = step
        .table
        .as_ref()
        .ok_or_else(|| format!("the step `{}` needs a table", step.value))?;
    Ok(table
        .rows
        .iter()
        .map(|row| row.iter().map(|cell| cell.trim().to_string()).collect())
        .collect())
}

fn unpacked(any: &Any) -> Result<DynamicMessage, String> {
    unpack(any)
}

// ---------------------------------------------------------------------------------------------
// Setup
// ---------------------------------------------------------------------------------------------

#[given("the shop is running")]
async fn the_shop_is_running(world: &mut ShopWorld) -> StepResult {
    world.shop = Some(Shop::start().await?);
    Ok(())
}

#[given(regex = r"^customer (\S+) named (.+)$")]
async fn customer_named(world: &mut ShopWorld, email: String, name: String) -> StepResult {
    let json = serde_json::json!({ "name": name, "email": email }).to_string();
    let book = world.command(
        "CreateCustomer",
        "customer",
        &format!("key(customer, {email})"),
        &json,
    )?;
    world.send(book).await
}

#[given(regex = r"^product (\S+) priced (\d+) with stock (\d+) and threshold (\d+)$")]
async fn product_with_stock(
    world: &mut ShopWorld,
    sku: String,
    price: i64,
    stock: i32,
    threshold: i32,
) -> StepResult {
    let product = serde_json::json!({ "sku": sku, "name": sku, "price_cents": price });
    let book = world.command(
        "CreateProduct",
        "product",
        &format!("key(product, {sku})"),
        &product.to_string(),
    )?;
    world.send(book).await?;
    let stock = serde_json::json!({
        "product_id": sku, "quantity": stock, "low_stock_threshold": threshold
    });
    let book = world.command(
        "InitializeStock",
        "inventory",
        &format!("key(inventory, {sku})"),
        &stock.to_string(),
    )?;
    world.send(book).await
}

#[given(regex = r"^the correlation id (\S+)$")]
async fn the_correlation_id(world: &mut ShopWorld, id: String) -> StepResult {
    let id = world.text(&id);
    world.correlation = Some(id.trim_matches('"').to_string());
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Commands
// ---------------------------------------------------------------------------------------------

#[when(regex = r"^(\w+) is sent to ([\w-]+) (\$\w+|key\([^)]*\)) (\{.*\})$")]
async fn sent(
    world: &mut ShopWorld,
    name: String,
    domain: String,
    root: String,
    json: String,
) -> StepResult {
    let book = world.command(&name, &domain, &root, &json)?;
    world.send(book).await
}

#[when(
    regex = r"^(\w+) is sent to ([\w-]+) (\$\w+|key\([^)]*\)) with sync mode (SIMPLE|CASCADE) (\{.*\})$"
)]
async fn sent_with_sync(
    world: &mut ShopWorld,
    name: String,
    domain: String,
    root: String,
    mode: String,
    json: String,
) -> StepResult {
    let mut book = world.command(&name, &domain, &root, &json)?;
    book.sync_mode = match mode.as_str() {
        "SIMPLE" => SyncMode::Simple,
        _ => SyncMode::Cascade,
    } as i32;
    world.send(book).await
}

#[when(
    regex = r"^(\w+) is sent to ([\w-]+) (\$\w+|key\([^)]*\)) with idempotency key (\S+) (\{.*\})$"
)]
async fn sent_with_key(
    world: &mut ShopWorld,
    name: String,
    domain: String,
    root: String,
    key: String,
    json: String,
) -> StepResult {
    let mut book = world.command(&name, &domain, &root, &json)?;
    book.idempotency_key = world.text(&key);
    world.send(book).await
}

#[when(regex = r"^I try (\w+) on ([\w-]+) (\$\w+|key\([^)]*\)) (\{.*\})$")]
async fn tried(
    world: &mut ShopWorld,
    name: String,
    domain: String,
    root: String,
    json: String,
) -> StepResult {
    let book = world.command(&name, &domain, &root, &json)?;
    let answer = world.shop()?.execute(book).await;
    world.answered(answer);
    Ok(())
}

#[when(regex = r"^I try (\w+) on ([\w-]+) (\$\w+|key\([^)]*\)) expecting sequence (\d+) (\{.*\})$")]
async fn tried_at_sequence(
    world: &mut ShopWorld,
    name: String,
    domain: String,
    root: String,
    sequence: u32,
    json: String,
) -> StepResult {
    let mut book = world.command(&name, &domain, &root, &json)?;
    book.pages[0].sequence = Some(sequence);
    let answer = world.shop()?.execute(book).await;
    world.answered(answer);
    Ok(())
}

#[then(regex = r#"^it is rejected with (\w+) "(.*)"$"#)]
async fn it_is_rejected(world: &mut ShopWorld, code: String, words: String) -> StepResult {
    let words = world.text(&words);
    match &world.last {
        Some(Err(status)) => {
            check_rejection(status, &code, &words).or_else(|problem| world.fail(problem))
        }
        Some(Ok(response)) => world.fail(format!(
            "expected the rejection {code} {words:?}, the command was accepted with {} events",
            response.events.as_ref().map_or(0, |b| b.pages.len())
        )),
        None => Err("no command was tried".into()),
    }
}

#[then("it is accepted")]
async fn it_is_accepted(world: &mut ShopWorld) -> StepResult {
    match &world.last {
        Some(Ok(_)) => Ok(()),
        Some(Err(status)) => world.fail(format!(
            "the command was rejected: {}",
            describe_status(status)
        )),
        None => Err("no command was tried".into()),
    }
}

#[then("the answer is the same as the previous one")]
async fn same_answer(world: &mut ShopWorld) -> StepResult {
    let events = |answer: &Option<Result<CommandResponse, Status>>| match answer {
        Some(Ok(response)) => Ok(response
            .events
            .as_ref()
            .map(|book| book.pages.clone())
            .unwrap_or_default()),
        Some(Err(status)) => Err(format!("a rejection: {}", describe_status(status))),
        None => Err("no answer".to_string()),
    };
    let (last, previous) = (events(&world.last)?, events(&world.previous)?);
    if last.is_empty() {
        return Err("the last answer holds no events".into());
    }
    if last == previous {
        Ok(())
    } else {
        let show = |pages: &[EventPage]| {
            pages
                .iter()
                .map(|p| {
                    format!(
                        "#{:?} {}",
                        p.sequence,
                        p.event.as_ref().map_or_else(String::new, describe_any)
                    )
                })
                .collect::<Vec<_>>()
                .join(", ")
        };
        world.fail(format!(
            "the answers differ:\n  previous: {}\n  last:     {}",
            show(&previous),
            show(&last)
        ))
    }
}

#[then(regex = r"^the response has a projection from ([\w-]+) matching (\{.*\})$")]
async fn response_has_projection(
    world: &mut ShopWorld,
    projector: String,
    json: String,
) -> StepResult {
    let json = world.text(&json);
    let Some(Ok(response)) = &world.last else {
        return Err("no accepted command to look at".into());
    };
    let mut seen = Vec::new();
    for projection in response
        .projections
        .iter()
        .filter(|p| p.projector == projector)
    {
        let Some(row) = &projection.projection else {
            continue;
        };
        let expected = Expected::parse(&type_of_url(&row.type_url)?, &json)?;
        match expected.check(&unpacked(row)?) {
            Ok(()) => return Ok(()),
            Err(problem) => seen.push(problem),
        }
    }
    let names: Vec<&str> = response
        .projections
        .iter()
        .map(|p| p.projector.as_str())
        .collect();
    world.fail(format!(
        "no projection from {projector} matches {json}; projections from: [{}]; mismatches:\n{}",
        names.join(", "),
        seen.join("\n")
    ))
}

// ---------------------------------------------------------------------------------------------
// Histories and states
// ---------------------------------------------------------------------------------------------

#[then(regex = r"^the ([\w-]+) (\$\w+|key\([^)]*\)) events are (.+)$")]
async fn events_are(
    world: &mut ShopWorld,
    domain: String,
    root: String,
    list: String,
) -> StepResult {
    let events = world.events(&domain, &root).await?;
    let got: Vec<&str> = events.iter().map(|(_, e)| e.short_type_name()).collect();
    let want: Vec<&str> = if list.trim() == "no events" {
        Vec::new()
    } else {
        list.split(',').map(str::trim).collect()
    };
    if got == want {
        Ok(())
    } else {
        world.fail(format!(
            "the {domain} {root} events are [{}], expected [{}]",
            got.join(", "),
            want.join(", ")
        ))
    }
}

#[then(regex = r"^the ([\w-]+) (\$\w+|key\([^)]*\)) history ends with:$")]
async fn history_ends_with(
    world: &mut ShopWorld,
    step: &Step,
    domain: String,
    root: String,
) -> StepResult {
    let rows = table(step)?;
    let mut expected = Vec::new();
    for row in &rows {
        let [name, json] = row.as_slice() else {
            return Err(format!("expected rows `| Event | json |`, got {row:?}"));
        };
        let json = world.text(json);
        expected.push((String::new(), Expected::parse_named(&domain, name, &json)?));
    }
    let events = world.events(&domain, &root).await?;
    let tail = events.len().saturating_sub(expected.len());
    let actual = events[tail..]
        .iter()
        .map(|(_, e)| unpacked(e).map(|m| (String::new(), m)))
        .collect::<Result<Vec<_>, _>>()?;
    check_list("events", &expected, &actual).or_else(|problem| world.fail(problem))
}

#[then(regex = r"^the ([\w-]+) (\$\w+|key\([^)]*\)) has (\d+) (\w+)$")]
async fn has_count(
    world: &mut ShopWorld,
    domain: String,
    root: String,
    count: usize,
    name: String,
) -> StepResult {
    message_type(&domain, &name)?;
    let events = world.events(&domain, &root).await?;
    let got = events
        .iter()
        .filter(|(_, e)| e.short_type_name() == name)
        .count();
    if got == count {
        Ok(())
    } else {
        world.fail(format!(
            "the {domain} {root} has {got} {name}, expected {count}"
        ))
    }
}

#[then(regex = r"^the ([\w-]+) (\$\w+|key\([^)]*\)) has (\w+) (\{.*\})$")]
async fn has_event(
    world: &mut ShopWorld,
    domain: String,
    root: String,
    name: String,
    json: String,
) -> StepResult {
    let json = world.text(&json);
    let expected = Expected::parse_named(&domain, &name, &json)?;
    let events = world.events(&domain, &root).await?;
    let mut mismatches = Vec::new();
    for (_, event) in events.iter().filter(|(_, e)| e.short_type_name() == name) {
        match expected.check(&unpacked(event)?) {
            Ok(()) => return Ok(()),
            Err(problem) => mismatches.push(problem),
        }
    }
    world.fail(format!(
        "no {name} of {domain} {root} matches {json} ({} of that type):\n{}",
        mismatches.len(),
        mismatches.join("\n")
    ))
}

#[then(regex = r"^every (\w+) of ([\w-]+) (\$\w+|key\([^)]*\)) carries the correlation id (\S+)$")]
async fn every_carries(
    world: &mut ShopWorld,
    name: String,
    domain: String,
    root: String,
    id: String,
) -> StepResult {
    let id = world.text(&id);
    let events = world.events(&domain, &root).await?;
    let of_type: Vec<&String> = events
        .iter()
        .filter(|(_, e)| e.short_type_name() == name)
        .map(|(correlation, _)| correlation)
        .collect();
    if of_type.is_empty() {
        return world.fail(format!("{domain} {root} has no {name}"));
    }
    match of_type.iter().find(|c| ***c != id) {
        None => Ok(()),
        Some(other) => world.fail(format!(
            "a {name} of {domain} {root} carries {other}, not {id}"
        )),
    }
}

#[then(regex = r"^the state of ([\w-]+) (\$\w+|key\([^)]*\)) is (\{.*\})$")]
async fn state_is(world: &mut ShopWorld, domain: String, root: String, json: String) -> StepResult {
    let json = world.text(&json);
    let uuid = world.root(&root)?;
    let events = world.events(&domain, &root).await?;
    let history = EventBook {
        cover: Some(Cover::for_root(&domain, uuid)),
        pages: events
            .into_iter()
            .map(|(_, event)| EventPage {
                event: Some(event),
                ..EventPage::default()
            })
            .collect(),
        ..EventBook::default()
    };
    let state = match registry::aggregate(&domain) {
        Ok(aggregate) => aggregate.state(&history),
        Err(_) => registry::process_manager(&domain)?.state(&history),
    }
    .map_err(|status| format!("rebuild {domain} {root}: {}", describe_status(&status)))?;
    let state = unpacked(&state)?;
    Expected::parse(&state.descriptor(), &json)?
        .check(&state)
        .or_else(|problem| world.fail(problem))
}

// ---------------------------------------------------------------------------------------------
// Projections
// ---------------------------------------------------------------------------------------------

/// A row key in step text: a root expression, or any text (placeholders substituted).
fn row_key(world: &mut ShopWorld, text: &str) -> String {
    let text = world.text(text.trim());
    if text.starts_with("key(") {
        parse_root(&text).map_or(text, |root| root.to_string())
    } else {
        text
    }
}

#[then(regex = r"^row (.+) of ([\w-]+) is (\{.*\})$")]
async fn row_is(world: &mut ShopWorld, key: String, projector: String, json: String) -> StepResult {
    let key = row_key(world, &key);
    let json = world.text(&json);
    let rows = world.settled().await?.rows(&projector)?;
    let Some((_, row)) = rows.iter().find(|(k, _)| *k == key) else {
        let keys: Vec<&str> = rows.iter().map(|(k, _)| k.as_str()).collect();
        return world.fail(format!(
            "{projector} has no row {key}; rows: [{}]",
            keys.join(", ")
        ));
    };
    Expected::parse(&type_of_url(&row.type_url)?, &json)?
        .check(&unpacked(row)?)
        .or_else(|problem| world.fail(problem))
}

#[then(regex = r"^([\w-]+) has no row (.+)$")]
async fn has_no_row(world: &mut ShopWorld, projector: String, key: String) -> StepResult {
    let key = row_key(world, &key);
    let rows = world.settled().await?.rows(&projector)?;
    match rows.iter().find(|(k, _)| *k == key) {
        None => Ok(()),
        Some((_, row)) => world.fail(format!("{projector} has row {key}: {}", describe_any(row))),
    }
}

#[then(regex = r"^the rows of ([\w-]+) are:$")]
async fn rows_are(world: &mut ShopWorld, step: &Step, projector: String) -> StepResult {
    let mut expected = Vec::new();
    for row in table(step)? {
        let [key, json] = row.as_slice() else {
            return Err(format!("expected rows `| key | json |`, got {row:?}"));
        };
        expected.push((row_key(world, key), world.text(json)));
    }
    let rows = world.settled().await?.rows(&projector)?;
    let mut problems = Vec::new();
    if rows.len() != expected.len() {
        problems.push(format!(
            "{projector} has {} rows, expected {}",
            rows.len(),
            expected.len()
        ));
    }
    for (key, json) in &expected {
        match rows.iter().find(|(k, _)| k == key) {
            None => problems.push(format!("no row {key}")),
            Some((_, row)) => {
                let check =
                    Expected::parse(&type_of_url(&row.type_url)?, json)?.check(&unpacked(row)?);
                if let Err(problem) = check {
                    problems.push(format!("row {key}: {problem}"));
                }
            }
        }
    }
    if problems.is_empty() {
        return Ok(());
    }
    let actual: Vec<String> = rows
        .iter()
        .map(|(k, row)| format!("  {k}: {}", describe_any(row)))
        .collect();
    world.fail(format!(
        "{}\nrows:\n{}",
        problems.join("\n"),
        actual.join("\n")
    ))
}

// ---------------------------------------------------------------------------------------------
// Runtime
// ---------------------------------------------------------------------------------------------

#[when(regex = r"^the runtime restarts with ([\w-]+) reading from the start$")]
async fn restart_replaying(world: &mut ShopWorld, subscriber: String) -> StepResult {
    world.settled().await?;
    let shop = world.shop.as_mut().ok_or("the shop is not running")?;
    shop.restart_replaying(&subscriber).await
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    // Each scenario runs a whole shop (17 processes); a few at a time is what 2 cores take.
    let cucumber = ShopWorld::cucumber::<PathBuf>()
        .with_parser(FeatureFiles::e2e())
        .max_concurrent_scenarios(3)
        .fail_on_skipped()
        .with_cli(options::<cli::Opts<_, _, _, cli::Empty>>("e2e_features"));
    let summary = cucumber.run(features_dir()).await;
    if summary.execution_has_failed() {
        eprintln!(
            "end-to-end features failed: {} failed steps, {} parsing errors, {} skipped steps",
            summary.failed_steps(),
            summary.parsing_errors(),
            summary.skipped_steps()
        );
        std::process::exit(1);
    }
}
