//! Merging several results files into one for a report: results, runs and micro-benchmarks
//! are concatenated, the environment is the first file's, and every echo run keeps the
//! label of the input it came from so two runs of one runtime can be overlaid.

use harness::results::{
    ConformanceCell, EchoRun, Environment, MicroResult, ResultsFile, SCHEMA_VERSION,
};

use crate::ReportError;

/// Several results files seen as one.
#[derive(Clone, Debug)]
pub struct MergedResults {
    /// The concatenation; `environment` is the first input's.
    pub file: ResultsFile,
    /// The label of each input (`old`, `new`, file names...), in input order.
    pub labels: Vec<String>,
    /// The environment of every input, in input order (the first is `file.environment`).
    pub environments: Vec<Environment>,
    /// For each run of `file.runs`, the index of the input it came from.
    pub run_input: Vec<usize>,
    /// For each cell of `file.results`, the index of the input it came from.
    pub cell_input: Vec<usize>,
    /// For each entry of `file.micro`, the index of the input it came from.
    pub micro_input: Vec<usize>,
    /// Whether runs of different inputs are told apart in series names (more than one
    /// input holds echo runs).
    pub overlay: bool,
}

/// Copies of `items` (from inputs `inputs`), sorted by runtime (first-seen order) then
/// input; when they come from several inputs, each runtime id gets ` (label)`.
fn relabel<T: Clone>(
    items: &[T],
    inputs: &[usize],
    labels: &[String],
    runtime: impl Fn(&mut T) -> &mut String,
) -> Vec<T> {
    let several = inputs.windows(2).any(|w| w[0] != w[1]);
    let mut order: Vec<String> = Vec::new();
    let mut out: Vec<(usize, usize, T)> = items
        .iter()
        .zip(inputs)
        .map(|(item, &i)| {
            let mut item = item.clone();
            let id = runtime(&mut item);
            let pos = order.iter().position(|o| o == id).unwrap_or_else(|| {
                order.push(id.clone());
                order.len() - 1
            });
            if several {
                *id = format!("{id} ({})", labels[i]);
            }
            (pos, i, item)
        })
        .collect();
    out.sort_by_key(|(pos, i, _)| (*pos, *i));
    out.into_iter().map(|(_, _, item)| item).collect()
}

/// A run together with the name of the chart series it belongs to.
#[derive(Clone, Copy, Debug)]
pub struct LabelledRun<'a> {
    /// The runtime id, followed by ` (label)` when inputs are overlaid.
    pub series: &'a str,
    /// The runtime id alone.
    pub runtime: &'a str,
    /// Index of the input the run came from.
    pub input: usize,
    /// The run.
    pub run: &'a EchoRun,
}

/// A micro-benchmark result for display, with the runtime and input it came from.
#[derive(Clone, Debug, PartialEq)]
pub struct LabelledMicro {
    /// The runtime id alone.
    pub runtime: String,
    /// Index of the input the result came from.
    pub input: usize,
    /// The result; its `runtime` is the display name, followed by ` (label)` when several
    /// inputs hold micro-benchmark results.
    pub result: MicroResult,
}

/// Default labels for `n` inputs: none needed for one, `old`/`new` for two, `run 1`... else.
pub fn default_labels(n: usize) -> Vec<String> {
    match n {
        2 => vec!["old".into(), "new".into()],
        _ => (1..=n).map(|i| format!("run {i}")).collect(),
    }
}

impl MergedResults {
    /// Merges `inputs`, labelled by `labels` (same length).
    pub fn new(inputs: &[ResultsFile], labels: &[String]) -> Result<Self, ReportError> {
        let first = inputs.first().ok_or(ReportError::NoInputs)?;
        if labels.len() != inputs.len() {
            return Err(ReportError::LabelCount {
                labels: labels.len(),
                inputs: inputs.len(),
            });
        }
        let mut file = ResultsFile::new(first.environment.clone());
        file.schema_version = SCHEMA_VERSION;
        let mut run_input = Vec::new();
        let mut cell_input = Vec::new();
        let mut micro_input = Vec::new();
        for (i, input) in inputs.iter().enumerate() {
            file.results.extend(input.results.iter().cloned());
            file.runs.extend(input.runs.iter().cloned());
            file.micro.extend(input.micro.iter().cloned());
            file.capacity.extend(input.capacity.iter().cloned());
            file.equal_load.extend(input.equal_load.iter().cloned());
            file.server_instructions
                .extend(input.server_instructions.iter().cloned());
            run_input.extend(std::iter::repeat_n(i, input.runs.len()));
            cell_input.extend(std::iter::repeat_n(i, input.results.len()));
            micro_input.extend(std::iter::repeat_n(i, input.micro.len()));
        }
        // One kill matrix per report: the last input's that has one.
        file.kill_matrix = inputs.iter().rev().find_map(|f| f.kill_matrix.clone());
        let overlay = inputs.iter().filter(|f| !f.runs.is_empty()).count() > 1;
        Ok(Self {
            file,
            labels: labels.to_vec(),
            environments: inputs.iter().map(|f| f.environment.clone()).collect(),
            run_input,
            cell_input,
            micro_input,
            overlay,
        })
    }

    /// The conformance cells for display: when more than one input holds cells, each
    /// runtime id becomes `runtime (label)` so the files show side by side.
    /// Columns of one runtime stay side by side.
    pub fn display_cells(&self) -> Vec<ConformanceCell> {
        relabel(&self.file.results, &self.cell_input, &self.labels, |c| {
            &mut c.runtime
        })
    }

    /// The micro-benchmark results for display, relabelled like [`Self::display_cells`].
    pub fn display_micro(&self) -> Vec<MicroResult> {
        self.labelled_micro()
            .into_iter()
            .map(|m| m.result)
            .collect()
    }

    /// [`Self::display_micro`], each result with its runtime id and input (for its colour).
    pub fn labelled_micro(&self) -> Vec<LabelledMicro> {
        let items: Vec<LabelledMicro> = self
            .file
            .micro
            .iter()
            .zip(&self.micro_input)
            .map(|(m, &input)| LabelledMicro {
                runtime: m.runtime.clone(),
                input,
                result: m.clone(),
            })
            .collect();
        relabel(&items, &self.micro_input, &self.labels, |m| {
            &mut m.result.runtime
        })
    }

    /// Series names of every run: `tokio-ct`, or `tokio-ct (new)` when overlaid; when the
    /// runs hold more than one message size, each name ends in its size (`tokio-ct 64 B`), so
    /// points of different sizes are never taken for repeats of one another.
    pub fn series_names(&self) -> Vec<String> {
        let first_size = self.file.runs.first().map(|r| r.message_size);
        let sizes = self
            .file
            .runs
            .iter()
            .any(|r| Some(r.message_size) != first_size);
        self.file
            .runs
            .iter()
            .zip(&self.run_input)
            .map(|(run, &i)| {
                let mut name = if self.overlay {
                    format!("{} ({})", run.runtime, self.labels[i])
                } else {
                    run.runtime.clone()
                };
                if sizes {
                    name = format!("{name} {} B", run.message_size);
                }
                name
            })
            .collect()
    }
}

impl MergedResults {
    /// Pairs each run with its series name (`names` from [`MergedResults::series_names`])
    /// and its input.
    pub fn labelled<'a>(&'a self, names: &'a [String]) -> Vec<LabelledRun<'a>> {
        self.file
            .runs
            .iter()
            .zip(names)
            .zip(&self.run_input)
            .map(|((run, series), &input)| LabelledRun {
                series,
                runtime: &run.runtime,
                input,
                run,
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn series_carry_the_size_only_when_sizes_differ() {
        let run = |rt: &str, size: u64| EchoRun {
            runtime: rt.into(),
            message_size: size,
            ..EchoRun::default()
        };
        let mut file = ResultsFile::new(Environment::default());
        file.runs = vec![run("evloop", 64), run("evloop", 64)];
        let merged = MergedResults::new(std::slice::from_ref(&file), &["a".into()]).unwrap();
        assert_eq!(merged.series_names(), ["evloop", "evloop"]);
        file.runs.push(run("evloop", 16384));
        let merged = MergedResults::new(&[file], &["a".into()]).unwrap();
        assert_eq!(
            merged.series_names(),
            ["evloop 64 B", "evloop 64 B", "evloop 16384 B"]
        );
    }
}
