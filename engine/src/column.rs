//! Columns: the values of script API 2. A script runs once per cohort and
//! every input field or derived value is a whole column, one element per
//! staff member in staff-ID order. Operators and helpers work element by
//! element natively; every element is checked exactly (overflow, inexact
//! result, division by zero).
//!
//! **Faults instead of eager errors.** An element whose operation fails
//! (or an empty optional cell) does not stop the script at once: the
//! element is marked with a [`Fault`] (operation, script position, reason)
//! and the fault travels with every value computed from it. `when(c, a, b)`
//! keeps a fault of `a` only where `c` is true, and of `b` only where it is
//! false, so an operation in a branch not taken has no effect at all for
//! that staff member — exactly as if it had never been evaluated. A fault
//! that reaches a reduction, a score, a grade, a bonus, a flag or an
//! explanation is an error naming the first such staff member in staff-ID
//! order, the operation and its script line.

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering};
use std::sync::Arc;

use rayon::prelude::*;
use rhai::{Dynamic, EvalAltResult, ImmutableString, Position, INT};
use rust_decimal::Decimal;

use crate::decimal::{add_exact, mul_exact, ratio as ratio_dec, rhu as rhu_dec, sub_exact};

/// Why an element has no value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fault {
    /// The operation (`ratio`, `*`, `read`...).
    pub op: String,
    /// Script line and column of the operation (0 when unknown).
    pub line: usize,
    pub column: usize,
    pub message: String,
    /// An empty optional cell (`present` and `fill` see these), not an error.
    pub no_value: bool,
}

/// Faulted elements, sorted by index, at most one per index.
type Faults = Arc<Vec<(u32, Arc<Fault>)>>;

/// The element data of a column.
#[derive(Debug, Clone, PartialEq)]
pub enum Data {
    Int(Vec<i64>),
    Dec(Vec<Decimal>),
    Bool(Vec<bool>),
    Text(Vec<ImmutableString>),
}

impl Data {
    fn len(&self) -> usize {
        match self {
            Data::Int(v) => v.len(),
            Data::Dec(v) => v.len(),
            Data::Bool(v) => v.len(),
            Data::Text(v) => v.len(),
        }
    }

    fn bytes(&self) -> i64 {
        let per = match self {
            Data::Int(_) => 8,
            Data::Dec(_) => 16,
            Data::Bool(_) => 1,
            Data::Text(_) => 8,
        };
        i64::try_from(self.len() * per).unwrap_or(i64::MAX)
    }

    pub fn kind(&self) -> &'static str {
        match self {
            Data::Int(_) => "integer",
            Data::Dec(_) => "decimal",
            Data::Bool(_) => "bool",
            Data::Text(_) => "text",
        }
    }
}

/// Column data with its share of the run's memory meter.
#[derive(Debug)]
struct Stored {
    data: Data,
    meter: Option<Arc<AtomicI64>>,
    bytes: i64,
}

impl Drop for Stored {
    fn drop(&mut self) {
        if let Some(m) = &self.meter {
            m.fetch_sub(self.bytes, Ordering::Relaxed);
            // Give the buffer back to the run's pool: the next column reuses
            // it instead of asking the allocator (and the kernel) for fresh,
            // zeroed pages.
            let data = std::mem::replace(&mut self.data, Data::Bool(Vec::new()));
            recycle(data);
        }
    }
}

/// Buffers of dropped columns of the current script call, for reuse.
#[derive(Default)]
struct Pool {
    dec: Vec<Vec<Decimal>>,
    int: Vec<Vec<i64>>,
    boolean: Vec<Vec<bool>>,
    active: bool,
}

/// Buffers kept per element type.
const POOL_DEPTH: usize = 16;

thread_local! {
    static POOL: RefCell<Pool> = RefCell::new(Pool::default());
}

fn recycle(data: Data) {
    POOL.with(|p| {
        let Ok(mut p) = p.try_borrow_mut() else {
            return;
        };
        if !p.active {
            return;
        }
        match data {
            Data::Dec(v) if p.dec.len() < POOL_DEPTH => p.dec.push(v),
            Data::Int(v) if p.int.len() < POOL_DEPTH => p.int.push(v),
            Data::Bool(v) if p.boolean.len() < POOL_DEPTH => p.boolean.push(v),
            _ => {}
        }
    });
}

/// Element types whose buffers are pooled.
trait Pooled: Sized + Send + Default {
    fn take(n: usize) -> Vec<Self>;
}

macro_rules! pooled {
    ($t:ty, $field:ident) => {
        impl Pooled for $t {
            fn take(n: usize) -> Vec<$t> {
                let v = POOL.with(|p| {
                    p.try_borrow_mut().ok().and_then(|mut p| {
                        let k = p.$field.iter().position(|b| b.capacity() >= n)?;
                        Some(p.$field.swap_remove(k))
                    })
                });
                let mut v = v.unwrap_or_else(|| Vec::with_capacity(n));
                v.clear();
                v
            }
        }
    };
}
pooled!(Decimal, dec);
pooled!(i64, int);
pooled!(bool, boolean);

/// A column as scripts see it (rhai type `Column`): cheap to clone.
#[derive(Debug, Clone)]
pub struct Column {
    stored: Arc<Stored>,
    faults: Option<Faults>,
}

impl Column {
    pub fn data(&self) -> &Data {
        &self.stored.data
    }

    pub fn len(&self) -> usize {
        self.stored.data.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The first fault, if any element has one.
    pub fn first_fault(&self) -> Option<(usize, &Fault)> {
        self.faults
            .as_ref()
            .and_then(|f| f.first())
            .map(|(i, f)| (*i as usize, &**f))
    }

    /// The fault of element `i`, if any.
    pub fn fault_at(&self, i: usize) -> Option<&Fault> {
        let f = self.faults.as_ref()?;
        let k = f.binary_search_by_key(&(i as u32), |x| x.0).ok()?;
        Some(&f[k].1)
    }

    /// A column built outside a script run (inputs): not metered.
    pub fn from_data(data: Data, faults: Vec<(u32, Arc<Fault>)>) -> Column {
        let bytes = data.bytes();
        Column {
            stored: Arc::new(Stored {
                data,
                meter: None,
                bytes,
            }),
            faults: if faults.is_empty() {
                None
            } else {
                Some(Arc::new(faults))
            },
        }
    }
}

// ---- the run: limits and meters of one script call ------------------------

/// A limit a column operation hit (rhai error payload).
#[derive(Debug, Clone)]
pub struct LimitStop {
    pub name: &'static str,
    pub value: u64,
    pub message: String,
}

/// A fault that reached a place where a value is needed (rhai error payload).
#[derive(Debug, Clone)]
pub struct FaultStop {
    pub index: usize,
    pub fault: Fault,
    /// Where it was needed (`max`, `if`...).
    pub needed_by: String,
}

/// State of one script call: cohort size, element-operation budget and
/// live column memory.
#[derive(Debug)]
pub struct Run {
    pub n: usize,
    ops_left: AtomicU64,
    max_ops_per_staff: u64,
    meter: Arc<AtomicI64>,
    max_bytes: i64,
    max_bytes_per_staff: u64,
}

impl Run {
    pub fn new(n: usize, max_ops_per_staff: u64, max_bytes_per_staff: u64) -> Run {
        let scale = n.max(1) as u64;
        Run {
            n,
            ops_left: AtomicU64::new(max_ops_per_staff.saturating_mul(scale)),
            max_ops_per_staff,
            meter: Arc::new(AtomicI64::new(0)),
            max_bytes: i64::try_from(max_bytes_per_staff.saturating_mul(scale)).unwrap_or(i64::MAX),
            max_bytes_per_staff,
        }
    }
}

thread_local! {
    static RUN: RefCell<Option<Arc<Run>>> = const { RefCell::new(None) };
}

/// Run `f` with `run` as the current script call's state.
pub fn with_run<T>(run: Arc<Run>, f: impl FnOnce() -> T) -> T {
    struct Reset(Option<Arc<Run>>);
    impl Drop for Reset {
        fn drop(&mut self) {
            let prev = self.0.take();
            RUN.with(|r| *r.borrow_mut() = prev);
        }
    }
    let prev = RUN.with(|r| r.borrow_mut().replace(run));
    let _reset = Reset(prev);
    let was_active = POOL.with(|p| std::mem::replace(&mut p.borrow_mut().active, true));
    let r = f();
    POOL.with(|p| {
        let mut p = p.borrow_mut();
        p.active = was_active;
        if !was_active {
            // The pool lives only as long as the script call.
            *p = Pool::default();
        }
    });
    r
}

fn current() -> Result<Arc<Run>, Box<EvalAltResult>> {
    RUN.with(|r| r.borrow().clone())
        .ok_or_else(|| runtime("columns exist only while the engine runs a ranking script"))
}

pub(crate) fn runtime(msg: impl Into<String>) -> Box<EvalAltResult> {
    Box::new(EvalAltResult::ErrorRuntime(
        Dynamic::from(msg.into()),
        Position::NONE,
    ))
}

fn stop_at(payload: Dynamic, pos: Position) -> Box<EvalAltResult> {
    Box::new(EvalAltResult::ErrorRuntime(payload, pos))
}

/// Charge `k` element operations to the current run.
fn charge(run: &Run, k: usize, pos: Position) -> Result<(), Box<EvalAltResult>> {
    let k = k as u64;
    // Only the script's thread charges: a plain load and store suffice.
    let left = run.ops_left.load(Ordering::Relaxed);
    if k > left {
        return Err(stop_at(
            Dynamic::from(LimitStop {
                name: "max_element_operations",
                value: run.max_ops_per_staff,
                message: format!(
                    "more than {} element operations per staff member ({} staff)",
                    run.max_ops_per_staff, run.n
                ),
            }),
            pos,
        ));
    }
    run.ops_left.store(left - k, Ordering::Relaxed);
    Ok(())
}

/// A new metered column of the current run.
fn make(
    run: &Run,
    data: Data,
    faults: Option<Faults>,
    pos: Position,
) -> Result<Column, Box<EvalAltResult>> {
    let bytes = data.bytes();
    let live = run.meter.fetch_add(bytes, Ordering::Relaxed) + bytes;
    let stored = Arc::new(Stored {
        data,
        meter: Some(Arc::clone(&run.meter)),
        bytes,
    });
    if live > run.max_bytes {
        drop(stored);
        return Err(stop_at(
            Dynamic::from(LimitStop {
                name: "max_column_bytes",
                value: run.max_bytes_per_staff,
                message: format!(
                    "live columns would take more than {} bytes per staff member ({} staff)",
                    run.max_bytes_per_staff, run.n
                ),
            }),
            pos,
        ));
    }
    Ok(Column {
        stored,
        faults: faults.filter(|f| !f.is_empty()),
    })
}

// ---- operands ---------------------------------------------------------------

/// A column or a scalar broadcast to every staff member.
#[derive(Debug, Clone)]
pub enum Operand {
    Col(Column),
    Int(i64),
    Dec(Decimal),
    Bool(bool),
    Text(ImmutableString),
}

impl Operand {
    pub fn from_dynamic(d: &Dynamic, what: &str) -> Result<Operand, Box<EvalAltResult>> {
        if let Some(c) = d.read_lock::<Column>() {
            return Ok(Operand::Col(c.clone()));
        }
        if let Some(t) = d.read_lock::<Terms>() {
            return Ok(Operand::Col(t.value.clone()));
        }
        if let Ok(i) = d.as_int() {
            return Ok(Operand::Int(i));
        }
        if let Ok(x) = d.as_decimal() {
            return Ok(Operand::Dec(x));
        }
        if let Ok(b) = d.as_bool() {
            return Ok(Operand::Bool(b));
        }
        if let Ok(s) = d.as_immutable_string_ref() {
            return Ok(Operand::Text(s.clone()));
        }
        Err(runtime(format!(
            "{what}: expected a column, number, bool or text, found {}",
            d.type_name()
        )))
    }

    fn faults(&self) -> Option<&Faults> {
        match self {
            Operand::Col(c) => c.faults.as_ref(),
            _ => None,
        }
    }

    fn kind(&self) -> &'static str {
        match self {
            Operand::Col(c) => c.data().kind(),
            Operand::Int(_) => "integer",
            Operand::Dec(_) => "decimal",
            Operand::Bool(_) => "bool",
            Operand::Text(_) => "text",
        }
    }

    fn is_col(&self) -> bool {
        matches!(self, Operand::Col(_))
    }

    /// The operand's type in words: "a text column", "an integer", ...
    pub fn describe(&self) -> String {
        match self {
            Operand::Col(c) => match c.data().kind() {
                "integer" => "an integer column".to_owned(),
                "bool" => "a true/false column".to_owned(),
                k => format!("a {k} column"),
            },
            Operand::Int(_) => "an integer".to_owned(),
            Operand::Dec(_) => "a decimal".to_owned(),
            Operand::Bool(_) => "a true/false".to_owned(),
            Operand::Text(_) => "a text".to_owned(),
        }
    }
}

/// Numeric view of an operand.
#[derive(Clone, Copy)]
enum Num<'a> {
    IntCol(&'a [i64]),
    DecCol(&'a [Decimal]),
    Int(i64),
    Dec(Decimal),
}

impl Num<'_> {
    #[inline]
    fn dec(&self, i: usize) -> Decimal {
        match self {
            Num::IntCol(v) => Decimal::from(v[i]),
            Num::DecCol(v) => v[i],
            Num::Int(x) => Decimal::from(*x),
            Num::Dec(x) => *x,
        }
    }
    #[inline]
    fn int(&self, i: usize) -> i64 {
        match self {
            Num::IntCol(v) => v[i],
            Num::Int(x) => *x,
            // INVARIANT: int() is only called when both operands are integers.
            _ => 0,
        }
    }
    fn is_int(&self) -> bool {
        matches!(self, Num::IntCol(_) | Num::Int(_))
    }
}

fn num<'a>(o: &'a Operand, op: &str) -> Result<Num<'a>, Box<EvalAltResult>> {
    Ok(match o {
        Operand::Col(c) => match c.data() {
            Data::Int(v) => Num::IntCol(v),
            Data::Dec(v) => Num::DecCol(v),
            other => {
                return Err(runtime(format!(
                    "{op}: expected numbers, found a {} column",
                    other.kind()
                )))
            }
        },
        Operand::Int(x) => Num::Int(*x),
        Operand::Dec(x) => Num::Dec(*x),
        other => {
            return Err(runtime(format!(
                "{op}: expected numbers, found {}",
                other.kind()
            )))
        }
    })
}

/// The numeric views of both operands of a binary operator, or an error
/// naming the operator and both types.
fn nums<'a>(
    a: &'a Operand,
    b: &'a Operand,
    op: &str,
) -> Result<(Num<'a>, Num<'a>), Box<EvalAltResult>> {
    match (num(a, op), num(b, op)) {
        (Ok(x), Ok(y)) => Ok((x, y)),
        _ => Err(type_mismatch(op, &a.describe(), &b.describe())),
    }
}

/// The error for an operator applied to operands of types it does not
/// combine: it names the operator and both types (the script line and
/// column are added by the caller).
pub fn type_mismatch(op: &str, left: &str, right: &str) -> Box<EvalAltResult> {
    let hint = if matches!(op, "==" | "!=" | "<" | "<=" | ">" | ">=") {
        "values of different types are never compared (there is no implicit conversion); compare a number with a number and a text with a text"
    } else {
        "there is no implicit conversion between text, numbers and true/false; arithmetic takes numbers only"
    };
    runtime(format!(
        "type error: `{op}` between {left} and {right}: {hint}"
    ))
}

/// The cohort size of operands (all columns must have the same length).
fn len_of(run: &Run, ops: &[&Operand], op: &str) -> Result<usize, Box<EvalAltResult>> {
    for o in ops {
        if let Operand::Col(c) = o {
            if c.len() != run.n {
                return Err(runtime(format!(
                    "{op}: a column of {} elements in a cohort of {}",
                    c.len(),
                    run.n
                )));
            }
        }
    }
    Ok(run.n)
}

/// Merge sorted fault lists, keeping the first list's fault at equal indices.
fn merge(lists: &[Option<&Faults>]) -> Option<Faults> {
    let present: Vec<&Faults> = lists.iter().flatten().copied().collect();
    match present.len() {
        0 => None,
        1 => Some(Arc::clone(present[0])),
        _ => {
            let mut all: BTreeMap<u32, Arc<Fault>> = BTreeMap::new();
            for l in present.iter().rev() {
                for (i, f) in l.iter() {
                    all.insert(*i, Arc::clone(f));
                }
            }
            Some(Arc::new(all.into_iter().collect()))
        }
    }
}

/// Add new faults (index, reason) at indices not already faulted.
fn add_faults(
    base: Option<Faults>,
    new: Vec<(u32, String)>,
    op: &str,
    pos: Position,
) -> Option<Faults> {
    if new.is_empty() {
        return base;
    }
    let mut all: BTreeMap<u32, Arc<Fault>> = base
        .map(|b| b.iter().map(|(i, f)| (*i, Arc::clone(f))).collect())
        .unwrap_or_default();
    for (i, message) in new {
        all.entry(i).or_insert_with(|| {
            Arc::new(Fault {
                op: op.to_owned(),
                line: pos.line().unwrap_or(0),
                column: pos.position().unwrap_or(0),
                message,
                no_value: false,
            })
        });
    }
    Some(Arc::new(all.into_iter().collect()))
}

/// Elements per parallel task.
const CHUNK: usize = 16 * 1024;

/// Compute `f(i)` for every element, in parallel for large cohorts; an
/// element where `f` fails gets `T::default()` and its reason is collected
/// (in index order, so the result does not depend on the thread count).
fn compute<T: Pooled>(
    n: usize,
    f: impl Fn(usize) -> Result<T, &'static str> + Sync,
) -> (Vec<T>, Vec<(u32, String)>) {
    let failed = AtomicBool::new(false);
    let one = |i: usize| match f(i) {
        Ok(v) => v,
        Err(_) => {
            failed.store(true, Ordering::Relaxed);
            T::default()
        }
    };
    let mut values: Vec<T> = T::take(n);
    if n >= 2 * CHUNK {
        (0..n)
            .into_par_iter()
            .with_min_len(CHUNK)
            .map(one)
            .collect_into_vec(&mut values);
    } else {
        values.extend((0..n).map(one));
    }
    let mut errs = Vec::new();
    if failed.load(Ordering::Relaxed) {
        for i in 0..n {
            if let Err(m) = f(i) {
                errs.push((i as u32, m.to_owned()));
            }
        }
    }
    (values, errs)
}

/// Finish an elementwise operation: faults of the operands, then new ones.
fn finish(
    run: &Run,
    data: Data,
    operands: &[&Operand],
    new: Vec<(u32, String)>,
    op: &str,
    pos: Position,
) -> Result<Column, Box<EvalAltResult>> {
    let base = merge(&operands.iter().map(|o| o.faults()).collect::<Vec<_>>());
    // Faults at already-faulted indices are the operand's, computed on placeholders.
    let new = match &base {
        Some(b) => new
            .into_iter()
            .filter(|(i, _)| b.binary_search_by_key(i, |x| x.0).is_err())
            .collect(),
        None => new,
    };
    make(run, data, add_faults(base, new, op, pos), pos)
}

// ---- elementwise numeric operations ----------------------------------------

/// An arithmetic operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Arith {
    Add,
    Sub,
    Mul,
}

impl Arith {
    pub fn symbol(self) -> &'static str {
        match self {
            Arith::Add => "+",
            Arith::Sub => "-",
            Arith::Mul => "*",
        }
    }
}

fn dec_arith(op: Arith, x: Decimal, y: Decimal) -> Result<Decimal, &'static str> {
    let r = match op {
        Arith::Add => add_exact(x, y),
        Arith::Sub => sub_exact(x, y),
        Arith::Mul => mul_exact(x, y),
    };
    r.map_err(|e| e.reason())
}

fn int_arith(op: Arith, x: i64, y: i64) -> Result<i64, &'static str> {
    match op {
        Arith::Add => x.checked_add(y),
        Arith::Sub => x.checked_sub(y),
        Arith::Mul => x.checked_mul(y),
    }
    .ok_or("integer overflow")
}

/// Scalar arithmetic with the same checks as columns (used for scalars too).
pub fn scalar_arith(op: Arith, a: &Operand, b: &Operand) -> Result<Dynamic, Box<EvalAltResult>> {
    let (x, y) = nums(a, b, op.symbol())?;
    if x.is_int() && y.is_int() {
        int_arith(op, x.int(0), y.int(0))
            .map(Dynamic::from_int)
            .map_err(|m| runtime(format!("{}: {m}", op.symbol())))
    } else {
        dec_arith(op, x.dec(0), y.dec(0))
            .map(Dynamic::from_decimal)
            .map_err(|m| runtime(format!("{}: {m}", op.symbol())))
    }
}

pub fn arith(
    op: Arith,
    a: &Operand,
    b: &Operand,
    pos: Position,
) -> Result<Dynamic, Box<EvalAltResult>> {
    if !a.is_col() && !b.is_col() {
        return scalar_arith(op, a, b);
    }
    let run = current()?;
    let n = len_of(&run, &[a, b], op.symbol())?;
    charge(&run, n, pos)?;
    let (x, y) = nums(a, b, op.symbol())?;
    let (data, errs) = if x.is_int() && y.is_int() {
        let (v, e) = compute(n, |i| int_arith(op, x.int(i), y.int(i)));
        (Data::Int(v), e)
    } else {
        let (v, e) = compute(n, |i| dec_arith(op, x.dec(i), y.dec(i)));
        (Data::Dec(v), e)
    };
    finish(&run, data, &[a, b], errs, op.symbol(), pos).map(Dynamic::from)
}

pub fn neg(a: &Column, pos: Position) -> Result<Column, Box<EvalAltResult>> {
    let run = current()?;
    let o = Operand::Col(a.clone());
    let n = len_of(&run, &[&o], "-")?;
    charge(&run, n, pos)?;
    let (data, errs) = match a.data() {
        Data::Int(v) => {
            let (v, e) = compute(n, |i| v[i].checked_neg().ok_or("integer overflow"));
            (Data::Int(v), e)
        }
        Data::Dec(v) => (Data::Dec(v.iter().map(|x| -*x).collect()), Vec::new()),
        other => {
            return Err(runtime(format!(
                "-: cannot negate a {} column",
                other.kind()
            )))
        }
    };
    finish(&run, data, &[&o], errs, "-", pos)
}

/// A comparison operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cmp {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
}

impl Cmp {
    pub fn symbol(self) -> &'static str {
        match self {
            Cmp::Eq => "==",
            Cmp::Ne => "!=",
            Cmp::Lt => "<",
            Cmp::Le => "<=",
            Cmp::Gt => ">",
            Cmp::Ge => ">=",
        }
    }
    fn test(self, o: std::cmp::Ordering) -> bool {
        use std::cmp::Ordering::*;
        match self {
            Cmp::Eq => o == Equal,
            Cmp::Ne => o != Equal,
            Cmp::Lt => o == Less,
            Cmp::Le => o != Greater,
            Cmp::Gt => o == Greater,
            Cmp::Ge => o != Less,
        }
    }
}

pub fn compare(
    op: Cmp,
    a: &Operand,
    b: &Operand,
    pos: Position,
) -> Result<Column, Box<EvalAltResult>> {
    let run = current()?;
    let n = len_of(&run, &[a, b], op.symbol())?;
    charge(&run, n, pos)?;
    let text = |o: &Operand| -> Option<Vec<ImmutableString>> {
        match o {
            Operand::Col(c) => match c.data() {
                Data::Text(v) => Some(v.clone()),
                _ => None,
            },
            Operand::Text(t) => Some(vec![t.clone(); n]),
            _ => None,
        }
    };
    let boolean = |o: &Operand| -> Option<Vec<bool>> {
        match o {
            Operand::Col(c) => match c.data() {
                Data::Bool(v) => Some(v.clone()),
                _ => None,
            },
            Operand::Bool(t) => Some(vec![*t; n]),
            _ => None,
        }
    };
    let v: Vec<bool> = if let (Ok(x), Ok(y)) = (num(a, op.symbol()), num(b, op.symbol())) {
        if x.is_int() && y.is_int() {
            compute(n, |i| Ok(op.test(x.int(i).cmp(&y.int(i))))).0
        } else {
            compute(n, |i| Ok(op.test(x.dec(i).cmp(&y.dec(i))))).0
        }
    } else if let (Some(x), Some(y)) = (text(a), text(b)) {
        if !matches!(op, Cmp::Eq | Cmp::Ne) {
            return Err(runtime(format!(
                "{}: text is compared only with == and !=",
                op.symbol()
            )));
        }
        (0..n)
            .map(|i| op.test(x[i].as_str().cmp(y[i].as_str())))
            .collect()
    } else if let (Some(x), Some(y)) = (boolean(a), boolean(b)) {
        if !matches!(op, Cmp::Eq | Cmp::Ne) {
            return Err(runtime(format!(
                "{}: true/false is compared only with == and !=",
                op.symbol()
            )));
        }
        (0..n).map(|i| op.test(x[i].cmp(&y[i]))).collect()
    } else {
        return Err(type_mismatch(op.symbol(), &a.describe(), &b.describe()));
    };
    finish(&run, Data::Bool(v), &[a, b], Vec::new(), op.symbol(), pos)
}

fn bools<'a>(o: &'a Operand, op: &str) -> Result<Result<&'a [bool], bool>, Box<EvalAltResult>> {
    match o {
        Operand::Col(c) => match c.data() {
            Data::Bool(v) => Ok(Ok(v)),
            other => Err(runtime(format!(
                "{op}: expected true/false, found a {} column",
                other.kind()
            ))),
        },
        Operand::Bool(b) => Ok(Err(*b)),
        other => Err(runtime(format!(
            "{op}: expected true/false, found {}",
            other.kind()
        ))),
    }
}

/// `&`, `|` and `!` on bool columns.
pub fn logic(
    op: &'static str,
    a: &Operand,
    b: Option<&Operand>,
    pos: Position,
) -> Result<Column, Box<EvalAltResult>> {
    let run = current()?;
    let mut ops = vec![a];
    ops.extend(b);
    let n = len_of(&run, &ops, op)?;
    charge(&run, n, pos)?;
    let x = bools(a, op)?;
    let at = |v: &Result<&[bool], bool>, i: usize| match v {
        Ok(s) => s[i],
        Err(b) => *b,
    };
    let v: Vec<bool> = match b {
        None => (0..n).map(|i| !at(&x, i)).collect(),
        Some(b) => {
            let y = bools(b, op)?;
            if op == "&" {
                (0..n).map(|i| at(&x, i) && at(&y, i)).collect()
            } else {
                (0..n).map(|i| at(&x, i) || at(&y, i)).collect()
            }
        }
    };
    finish(&run, Data::Bool(v), &ops, Vec::new(), op, pos)
}

// ---- helpers ------------------------------------------------------------------

/// `ratio(a, b)`, `min`, `max` elementwise.
pub fn binary_fn(
    name: &'static str,
    a: &Operand,
    b: &Operand,
    pos: Position,
) -> Result<Column, Box<EvalAltResult>> {
    let run = current()?;
    let n = len_of(&run, &[a, b], name)?;
    // A division costs about four additions.
    charge(&run, if name == "ratio" { 4 * n } else { n }, pos)?;
    let (x, y) = (num(a, name)?, num(b, name)?);
    let (data, errs) = match name {
        "ratio" => {
            let (v, e) = compute(n, |i| {
                let d = y.dec(i);
                if d.is_zero() {
                    return Err("division by zero");
                }
                ratio_dec(x.dec(i), d).ok_or("quotient overflows")
            });
            (Data::Dec(v), e)
        }
        "min" | "max" => {
            let lo = name == "min";
            if x.is_int() && y.is_int() {
                let (v, e) = compute(n, |i| {
                    let (p, q) = (x.int(i), y.int(i));
                    Ok(if lo { p.min(q) } else { p.max(q) })
                });
                (Data::Int(v), e)
            } else {
                let (v, e) = compute(n, |i| {
                    let (p, q) = (x.dec(i), y.dec(i));
                    Ok(if lo { p.min(q) } else { p.max(q) })
                });
                (Data::Dec(v), e)
            }
        }
        _ => return Err(runtime(format!("{name}: not an elementwise helper"))),
    };
    finish(&run, data, &[a, b], errs, name, pos)
}

pub fn rhu(x: &Operand, places: u32, pos: Position) -> Result<Column, Box<EvalAltResult>> {
    let run = current()?;
    let n = len_of(&run, &[x], "rhu")?;
    charge(&run, 2 * n, pos)?;
    let v = num(x, "rhu")?;
    let (d, e) = compute(n, |i| Ok(rhu_dec(v.dec(i), places)));
    finish(&run, Data::Dec(d), &[x], e, "rhu", pos)
}

pub fn clamp(
    x: &Operand,
    lo: &Operand,
    hi: &Operand,
    pos: Position,
) -> Result<Column, Box<EvalAltResult>> {
    let run = current()?;
    let n = len_of(&run, &[x, lo, hi], "clamp")?;
    charge(&run, n, pos)?;
    let (v, l, h) = (num(x, "clamp")?, num(lo, "clamp")?, num(hi, "clamp")?);
    let (d, e) = compute(n, |i| {
        let (l, h) = (l.dec(i), h.dec(i));
        if l > h {
            return Err("lo is greater than hi");
        }
        Ok(v.dec(i).max(l).min(h))
    });
    finish(&run, Data::Dec(d), &[x, lo, hi], e, "clamp", pos)
}

pub fn to_dec(x: &Column, pos: Position) -> Result<Column, Box<EvalAltResult>> {
    let run = current()?;
    let o = Operand::Col(x.clone());
    let n = len_of(&run, &[&o], "dec")?;
    charge(&run, n, pos)?;
    let v = num(&o, "dec")?;
    let (d, e) = compute(n, |i| Ok(v.dec(i)));
    finish(&run, Data::Dec(d), &[&o], e, "dec", pos)
}

/// `when(cond, a, b)`: per staff member `a` where `cond` is true, else `b`;
/// faults of the branch not taken are dropped.
pub fn when(
    cond: &Operand,
    a: &Operand,
    b: &Operand,
    pos: Position,
) -> Result<Dynamic, Box<EvalAltResult>> {
    if let Operand::Bool(c) = cond {
        // A single true/false chooses a whole operand.
        return Ok(operand_to_dynamic(if *c { a } else { b }));
    }
    let run = current()?;
    let n = len_of(&run, &[cond, a, b], "when")?;
    charge(&run, n, pos)?;
    let c = match bools(cond, "when")? {
        Ok(v) => v,
        Err(_) => unreachable_bool(),
    };
    let data = match (num(a, "when"), num(b, "when")) {
        (Ok(x), Ok(y)) => {
            if x.is_int() && y.is_int() {
                Data::Int(compute(n, |i| Ok(if c[i] { x.int(i) } else { y.int(i) })).0)
            } else {
                Data::Dec(compute(n, |i| Ok(if c[i] { x.dec(i) } else { y.dec(i) })).0)
            }
        }
        _ => {
            let get = |o: &Operand, i: usize| -> Option<Dynamic> {
                match o {
                    Operand::Col(col) => match col.data() {
                        Data::Text(v) => Some(Dynamic::from(v[i].clone())),
                        Data::Bool(v) => Some(Dynamic::from_bool(v[i])),
                        _ => None,
                    },
                    Operand::Text(t) => Some(Dynamic::from(t.clone())),
                    Operand::Bool(t) => Some(Dynamic::from_bool(*t)),
                    _ => None,
                }
            };
            let (ka, kb) = (a.kind(), b.kind());
            if ka != kb {
                return Err(runtime(format!(
                    "when: both choices must be numbers, text or true/false alike; found {ka} and {kb}"
                )));
            }
            if ka == "text" {
                let pick = |o: &Operand, i: usize| -> ImmutableString {
                    get(o, i)
                        .and_then(|d| d.into_immutable_string().ok())
                        .unwrap_or_default()
                };
                Data::Text(
                    (0..n)
                        .map(|i| if c[i] { pick(a, i) } else { pick(b, i) })
                        .collect(),
                )
            } else {
                let pick = |o: &Operand, i: usize| -> bool {
                    get(o, i).and_then(|d| d.as_bool().ok()).unwrap_or(false)
                };
                Data::Bool(
                    (0..n)
                        .map(|i| if c[i] { pick(a, i) } else { pick(b, i) })
                        .collect(),
                )
            }
        }
    };
    // Faults: the condition's everywhere, a's where true, b's where false.
    let keep = |o: &Operand, want: bool| -> Option<Faults> {
        o.faults().map(|f| {
            Arc::new(
                f.iter()
                    .filter(|(i, _)| c[*i as usize] == want)
                    .cloned()
                    .collect(),
            )
        })
    };
    let (fa, fb) = (keep(a, true), keep(b, false));
    let faults = merge(&[cond.faults(), fa.as_ref(), fb.as_ref()]);
    make(&run, data, faults, pos).map(Dynamic::from)
}

fn unreachable_bool() -> &'static [bool] {
    &[]
}

fn operand_to_dynamic(o: &Operand) -> Dynamic {
    match o {
        Operand::Col(c) => Dynamic::from(c.clone()),
        Operand::Int(x) => Dynamic::from_int(*x),
        Operand::Dec(x) => Dynamic::from_decimal(*x),
        Operand::Bool(b) => Dynamic::from_bool(*b),
        Operand::Text(t) => Dynamic::from(t.clone()),
    }
}

/// `present(x)`: true where `x` has a value (an empty optional cell has none).
pub fn present(x: &Column, pos: Position) -> Result<Column, Box<EvalAltResult>> {
    let run = current()?;
    charge(&run, x.len(), pos)?;
    let mut v = vec![true; x.len()];
    let mut other = Vec::new();
    if let Some(f) = &x.faults {
        for (i, fault) in f.iter() {
            if fault.no_value {
                v[*i as usize] = false;
            } else {
                other.push((*i, Arc::clone(fault)));
            }
        }
    }
    make(&run, Data::Bool(v), Some(Arc::new(other)), pos)
}

/// `fill(x, v)`: `x`, with `v` where `x` has no value.
pub fn fill(x: &Column, v: &Operand, pos: Position) -> Result<Column, Box<EvalAltResult>> {
    let run = current()?;
    let has = present(x, pos)?;
    let col = Operand::Col(x.clone());
    let cleared = Column {
        stored: Arc::clone(&x.stored),
        faults: x
            .faults
            .as_ref()
            .map(|f| Arc::new(f.iter().filter(|(_, q)| !q.no_value).cloned().collect())),
    };
    let _ = run;
    let r = when(&Operand::Col(has), &Operand::Col(cleared), v, pos)?;
    drop(col);
    r.try_cast::<Column>()
        .ok_or_else(|| runtime("fill: internal type error"))
}

// ---- reductions -------------------------------------------------------------

fn no_fault(x: &Column, needed_by: &str, pos: Position) -> Result<(), Box<EvalAltResult>> {
    match x.first_fault() {
        None => Ok(()),
        Some((index, f)) => Err(stop_at(
            Dynamic::from(FaultStop {
                index,
                fault: f.clone(),
                needed_by: needed_by.to_owned(),
            }),
            pos,
        )),
    }
}

/// A reduction over a whole column: `sum`, `min`, `max`, `mean`, `count`.
pub fn reduce(
    name: &'static str,
    x: &Column,
    pos: Position,
) -> Result<Dynamic, Box<EvalAltResult>> {
    let run = current()?;
    charge(&run, x.len(), pos)?;
    if name == "count" {
        // count(bool column) = how many are true; else how many have a value.
        if let Data::Bool(v) = x.data() {
            no_fault(x, name, pos)?;
            return Ok(Dynamic::from_int(v.iter().filter(|b| **b).count() as INT));
        }
        let missing = x
            .faults
            .as_ref()
            .map_or(0, |f| f.iter().filter(|q| q.1.no_value).count());
        if let Some(f) = &x.faults {
            if let Some((i, q)) = f.iter().find(|q| !q.1.no_value) {
                return Err(stop_at(
                    Dynamic::from(FaultStop {
                        index: *i as usize,
                        fault: (**q).clone(),
                        needed_by: name.to_owned(),
                    }),
                    pos,
                ));
            }
        }
        return Ok(Dynamic::from_int((x.len() - missing) as INT));
    }
    no_fault(x, name, pos)?;
    let v = Operand::Col(x.clone());
    let nv = num(&v, name)?;
    let n = x.len();
    if n == 0 {
        return Err(runtime(format!("{name}: the cohort is empty")));
    }
    match name {
        "min" | "max" => {
            if nv.is_int() {
                let it = (0..n).map(|i| nv.int(i));
                let r = if name == "min" { it.min() } else { it.max() };
                Ok(Dynamic::from_int(r.unwrap_or(0)))
            } else {
                let it = (0..n).map(|i| nv.dec(i));
                let r = if name == "min" { it.min() } else { it.max() };
                Ok(Dynamic::from_decimal(r.unwrap_or_default()))
            }
        }
        "sum" | "mean" => {
            let mut s = Decimal::ZERO;
            for i in 0..n {
                s = add_exact(s, nv.dec(i)).map_err(|e| {
                    runtime(format!(
                        "{name}: the sum {} at staff element {}",
                        e.reason(),
                        i + 1
                    ))
                })?;
            }
            if name == "sum" {
                Ok(Dynamic::from_decimal(s))
            } else {
                ratio_dec(s, Decimal::from(n as u64))
                    .map(Dynamic::from_decimal)
                    .ok_or_else(|| runtime("mean: quotient overflows"))
            }
        }
        _ => Err(runtime(format!("{name}: not a reduction"))),
    }
}

/// A per-group reduction broadcast back to every member of the group:
/// `group_sum(x, key)` etc. `key` is a text, integer or bool column.
pub fn group(
    name: &'static str,
    x: &Column,
    key: &Column,
    pos: Position,
) -> Result<Column, Box<EvalAltResult>> {
    let run = current()?;
    let n = run.n;
    if x.len() != n || key.len() != n {
        return Err(runtime(format!("{name}: columns of another cohort")));
    }
    // Grouping looks every key up in an ordered map: it costs 16 per element.
    charge(&run, 16 * n, pos)?;
    no_fault(x, name, pos)?;
    no_fault(key, name, pos)?;
    // Group index of every element, groups numbered in order of first appearance.
    let mut gid = Vec::with_capacity(n);
    let g = match key.data() {
        Data::Text(v) => {
            let mut ids: BTreeMap<&str, usize> = BTreeMap::new();
            for t in v {
                let next = ids.len();
                gid.push(*ids.entry(t.as_str()).or_insert(next));
            }
            ids.len()
        }
        Data::Int(v) => {
            let mut ids: BTreeMap<i64, usize> = BTreeMap::new();
            for x in v {
                let next = ids.len();
                gid.push(*ids.entry(*x).or_insert(next));
            }
            ids.len()
        }
        Data::Bool(v) => {
            let mut ids: [Option<usize>; 2] = [None, None];
            let mut next = 0;
            for b in v {
                let slot = &mut ids[usize::from(*b)];
                let k = *slot.get_or_insert_with(|| {
                    next += 1;
                    next - 1
                });
                gid.push(k);
            }
            next
        }
        Data::Dec(_) => {
            return Err(runtime(format!(
                "{name}: group by a text, integer or true/false column, not decimals"
            )))
        }
    };
    let op = name.trim_start_matches("group_");
    if op == "count" {
        let mut c = vec![0i64; g];
        for &k in &gid {
            c[k] += 1;
        }
        let v = gid.iter().map(|&k| c[k]).collect();
        return make(&run, Data::Int(v), None, pos);
    }
    let xo = Operand::Col(x.clone());
    let nv = num(&xo, name)?;
    let data = match op {
        "min" | "max" if nv.is_int() => {
            let mut acc: Vec<Option<i64>> = vec![None; g];
            for i in 0..n {
                let v = nv.int(i);
                let a = &mut acc[gid[i]];
                *a = Some(match a {
                    None => v,
                    Some(p) if op == "min" => (*p).min(v),
                    Some(p) => (*p).max(v),
                });
            }
            Data::Int(gid.iter().map(|&k| acc[k].unwrap_or(0)).collect())
        }
        "min" | "max" => {
            let mut acc: Vec<Option<Decimal>> = vec![None; g];
            for i in 0..n {
                let v = nv.dec(i);
                let a = &mut acc[gid[i]];
                *a = Some(match a {
                    None => v,
                    Some(p) if op == "min" => (*p).min(v),
                    Some(p) => (*p).max(v),
                });
            }
            Data::Dec(gid.iter().map(|&k| acc[k].unwrap_or_default()).collect())
        }
        "sum" | "mean" => {
            let mut acc = vec![Decimal::ZERO; g];
            let mut cnt = vec![0u64; g];
            for (i, &k) in gid.iter().enumerate() {
                acc[k] = add_exact(acc[k], nv.dec(i))
                    .map_err(|e| runtime(format!("{name}: a group's sum {}", e.reason())))?;
                cnt[k] += 1;
            }
            if op == "mean" {
                for k in 0..g {
                    acc[k] = ratio_dec(acc[k], Decimal::from(cnt[k]))
                        .ok_or_else(|| runtime(format!("{name}: quotient overflows")))?;
                }
            }
            Data::Dec(gid.iter().map(|&k| acc[k]).collect())
        }
        _ => return Err(runtime(format!("{name}: not a group reduction"))),
    };
    make(&run, data, None, pos)
}

// ---- terms: a score with named parts -------------------------------------------

/// A score built from named terms: `value = Σ term × weight` (exact), with
/// an optional named rounding (`rhu(terms, d)`). The engine writes every
/// staff member's terms (value, weight, contribution) into the explanation.
#[derive(Debug, Clone)]
pub struct Terms {
    /// (name, value operand, weight), names in ascending byte order.
    pub parts: Vec<(String, Operand, Decimal)>,
    /// The contributions `value × weight`, one operand per part.
    pub contributions: Vec<Operand>,
    /// The score: the sum of the contributions, rounded if `rounded` is set.
    pub value: Column,
    pub rounded: Option<u32>,
}

pub fn terms(
    values: &rhai::Map,
    weights: &rhai::Map,
    pos: Position,
) -> Result<Terms, Box<EvalAltResult>> {
    let run = current()?;
    for k in weights.keys() {
        if !values.contains_key(k) {
            return Err(runtime(format!(
                "terms: a weight for `{k}`, which has no value"
            )));
        }
    }
    let mut parts = Vec::new();
    let mut contributions = Vec::new();
    let mut total = Operand::Int(0);
    for (k, v) in values {
        let w = weights
            .get(k)
            .ok_or_else(|| runtime(format!("terms: `{k}` has no weight")))?;
        let w = if let Ok(i) = w.as_int() {
            Decimal::from(i)
        } else {
            w.as_decimal()
                .map_err(|_| runtime(format!("terms: the weight of `{k}` is not a number")))?
        };
        let v = Operand::from_dynamic(v, "terms")?;
        num(&v, "terms")?;
        let c = Operand::from_dynamic(&arith(Arith::Mul, &v, &Operand::Dec(w), pos)?, "terms")?;
        total = Operand::from_dynamic(&arith(Arith::Add, &total, &c, pos)?, "terms")?;
        parts.push((k.to_string(), v, w));
        contributions.push(c);
    }
    let value = match total {
        Operand::Col(c) => c,
        other => {
            // Every term is a scalar: broadcast the sum.
            let n = run.n;
            let d = num(&other, "terms")?.dec(0);
            make(&run, Data::Dec(vec![d; n]), None, pos)?
        }
    };
    Ok(Terms {
        parts,
        contributions,
        value,
        rounded: None,
    })
}

/// Broadcast an operand to a column of the current run.
pub fn broadcast(o: &Operand, pos: Position) -> Result<Column, Box<EvalAltResult>> {
    if let Operand::Col(c) = o {
        return Ok(c.clone());
    }
    let run = current()?;
    let n = run.n;
    let data = match o {
        Operand::Int(x) => Data::Int(vec![*x; n]),
        Operand::Dec(x) => Data::Dec(vec![*x; n]),
        Operand::Bool(x) => Data::Bool(vec![*x; n]),
        Operand::Text(x) => Data::Text(vec![x.clone(); n]),
        Operand::Col(_) => unreachable_col(),
    };
    make(&run, data, None, pos)
}

fn unreachable_col() -> Data {
    Data::Bool(Vec::new())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dcol(v: &[&str]) -> Column {
        Column::from_data(
            Data::Dec(v.iter().map(|s| s.parse().unwrap()).collect()),
            Vec::new(),
        )
    }

    #[test]
    fn when_drops_faults_of_the_branch_not_taken() {
        let run = Arc::new(Run::new(3, 100, 1000));
        with_run(run, || {
            let won = Operand::Col(dcol(&["1", "0", "2"]));
            let leads = Operand::Col(dcol(&["2", "0", "4"]));
            let r = binary_fn("ratio", &won, &leads, Position::NONE).unwrap();
            assert_eq!(r.first_fault().unwrap().0, 1);
            let cond = compare(Cmp::Gt, &leads, &Operand::Int(0), Position::NONE).unwrap();
            let w = when(
                &Operand::Col(cond),
                &Operand::Col(r),
                &Operand::Int(0),
                Position::NONE,
            )
            .unwrap()
            .try_cast::<Column>()
            .unwrap();
            assert!(w.first_fault().is_none());
            assert_eq!(
                w.data(),
                &Data::Dec(vec![
                    "0.5".parse().unwrap(),
                    Decimal::ZERO,
                    "0.5".parse().unwrap()
                ])
            );
        });
    }

    #[test]
    fn whole_column_reductions() {
        let dec = |s: &str| s.parse::<Decimal>().unwrap();
        // (column, reduction, expected: a decimal, or an integer for count)
        let cases: [(&[&str], &'static str, &str); 10] = [
            (&["1", "2.5", "-3", "0.0"], "sum", "0.5"),
            (&["1", "2.5", "-3", "0.0"], "min", "-3"),
            (&["1", "2.5", "-3", "0.0"], "max", "2.5"),
            (&["1", "2.5", "-3", "0.0"], "mean", "0.125"),
            (&["1", "2.5", "-3", "0.0"], "count", "4"),
            (&["0.0", "0.00"], "sum", "0"),
            (&["2", "2", "3"], "mean", "2.33333333"),
            (&["-0.5", "-0.25"], "max", "-0.25"),
            (&["7"], "min", "7"),
            (&["1", "2"], "mean", "1.5"),
        ];
        for (v, name, want) in cases {
            let run = Arc::new(Run::new(v.len(), 100, 1000));
            with_run(run, || {
                let r = reduce(name, &dcol(v), Position::NONE).unwrap();
                let got = r
                    .as_decimal()
                    .or_else(|_| r.as_int().map(Decimal::from))
                    .unwrap();
                assert_eq!(got, dec(want), "{name}({v:?})");
                assert_eq!(r.is_int(), name == "count", "{name}({v:?}) type");
            });
        }
        // count of a bool column counts the true elements
        let run = Arc::new(Run::new(3, 100, 1000));
        with_run(run, || {
            let b = Column::from_data(Data::Bool(vec![true, false, true]), Vec::new());
            assert_eq!(reduce("count", &b, Position::NONE).unwrap().as_int(), Ok(2));
        });
        // an empty cohort has no sum, mean, min or max
        let run = Arc::new(Run::new(0, 100, 1000));
        with_run(run, || {
            for name in ["sum", "mean", "min", "max"] {
                let e = reduce(name, &dcol(&[]), Position::NONE).unwrap_err();
                assert!(e.to_string().contains("the cohort is empty"), "{name}: {e}");
            }
        });
    }

    #[test]
    fn group_reductions_broadcast_to_every_member() {
        let run = Arc::new(Run::new(5, 100, 1000));
        with_run(run, || {
            let x = dcol(&["1", "2", "3", "4", "5"]);
            let key = Column::from_data(
                Data::Text(
                    ["E", "S", "E", "N", "S"]
                        .iter()
                        .map(|s| (*s).into())
                        .collect(),
                ),
                Vec::new(),
            );
            let d = |v: &[&str]| Data::Dec(v.iter().map(|s| s.parse().unwrap()).collect());
            let g = |name| group(name, &x, &key, Position::NONE).unwrap();
            assert_eq!(g("group_sum").data(), &d(&["4", "7", "4", "4", "7"]));
            assert_eq!(g("group_max").data(), &d(&["3", "5", "3", "4", "5"]));
            assert_eq!(g("group_min").data(), &d(&["1", "2", "1", "4", "2"]));
            assert_eq!(g("group_mean").data(), &d(&["2", "3.5", "2", "4", "3.5"]));
            let c = group("group_count", &key, &key, Position::NONE).unwrap();
            assert_eq!(c.data(), &Data::Int(vec![2, 2, 2, 1, 2]));
            // decimals are not group keys
            assert!(group("group_sum", &x, &x, Position::NONE).is_err());
        });
    }

    #[test]
    fn element_operations_are_budgeted() {
        let run = Arc::new(Run::new(3, 2, 1000));
        with_run(run, || {
            let a = Operand::Col(dcol(&["1", "2", "3"]));
            let _x = arith(Arith::Add, &a, &a, Position::NONE).unwrap();
            let _y = arith(Arith::Add, &a, &a, Position::NONE).unwrap();
            let e = arith(Arith::Add, &a, &a, Position::NONE).unwrap_err();
            match *e {
                EvalAltResult::ErrorRuntime(d, _) => {
                    assert_eq!(
                        d.try_cast::<LimitStop>().unwrap().name,
                        "max_element_operations"
                    )
                }
                other => panic!("{other}"),
            }
        });
    }

    #[test]
    fn live_column_memory_is_bounded() {
        // 3 staff × 40 bytes: two decimal columns (48 bytes each) fit, three do not.
        let run = Arc::new(Run::new(3, 100, 40));
        with_run(run, || {
            let a = Operand::Col(dcol(&["1", "2", "3"]));
            let x = arith(Arith::Add, &a, &a, Position::NONE).unwrap();
            let y = arith(Arith::Add, &a, &a, Position::NONE).unwrap();
            assert!(arith(Arith::Add, &a, &a, Position::NONE).is_err());
            drop((x, y));
            // Dropped columns give their memory back.
            assert!(arith(Arith::Add, &a, &a, Position::NONE).is_ok());
        });
    }
}
