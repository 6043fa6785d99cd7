//! Drawing a [`Chart`] as SVG with `plotters`: the plot on the left, the legend in its own
//! column on the right so it never covers a line. The coordinate, legend and axis layout
//! here are shared with the dot plots of [`super::dots`].

use std::fmt::Display;
use std::ops::Range;

use plotters::coord::ranged1d::{DefaultFormatting, KeyPointHint};
use plotters::coord::Shift;
use plotters::element::DashedPathElement;
use plotters::prelude::*;

use super::{auto_ticks, role, Axis, Chart, LineStyle, Scale, CHART_SIZE};
use crate::ReportError;

/// Width of the legend column, pixels.
pub(super) const LEGEND_WIDTH: u32 = 230;

/// Distance from the top of the legend column to its first entry, pixels.
pub(super) const LEGEND_TOP: u32 = 60;

/// Distance between legend entries, pixels.
pub(super) const LEGEND_ROW: u32 = 24;

/// Draws `chart` as a standalone SVG document (with `xmlns`).
pub fn render_svg(chart: &Chart) -> Result<String, ReportError> {
    let err = chart_error(&chart.title);
    let points = || chart.series.iter().flat_map(|s| &s.points);
    let (x_lo, x_hi, x_ticks) = axis_layout(&chart.x, points().map(|p| p.x));
    let (y_lo, y_hi, y_ticks) = axis_layout(
        &chart.y,
        points().flat_map(|p| {
            let (lo, hi) = p.whisker.unwrap_or((p.y, p.y));
            [p.y, lo, hi]
        }),
    );

    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, CHART_SIZE).into_drawing_area();
        root.fill(&WHITE).map_err(|e| err(&e))?;
        let (plot_area, legend_area) = root.split_horizontally(CHART_SIZE.0 - LEGEND_WIDTH);
        let x_keys: Vec<f64> = x_ticks.iter().map(|t| t.0).collect();
        let y_keys: Vec<f64> = y_ticks.iter().map(|t| t.0).collect();
        let mut ctx = ChartBuilder::on(&plot_area)
            .caption(&chart.title, (role::TITLE, 20))
            .margin(12)
            .x_label_area_size(52)
            .y_label_area_size(78)
            .build_cartesian_2d(
                KeyedRange::new(x_lo, x_hi, x_keys),
                KeyedRange::new(y_lo, y_hi, y_keys),
            )
            .map_err(|e| err(&e))?;
        let x_label = |v: &f64| tick_label(&x_ticks, *v);
        let y_label = |v: &f64| tick_label(&y_ticks, *v);
        ctx.configure_mesh()
            .x_desc(chart.x.title.as_str())
            .y_desc(chart.y.title.as_str())
            .x_label_formatter(&x_label)
            .y_label_formatter(&y_label)
            .bold_line_style(RGBColor(225, 225, 225))
            .light_line_style(TRANSPARENT)
            .axis_desc_style((role::AXIS_TITLE, 16))
            .x_label_style((role::TICK_X, 14))
            .y_label_style((role::TICK_Y, 14))
            .draw()
            .map_err(|e| err(&e))?;

        for series in &chart.series {
            let pts: Vec<(f64, f64)> = series
                .points
                .iter()
                .filter_map(|p| Some((chart.x.coord(p.x)?, chart.y.coord(p.y)?)))
                .collect();
            let style = shape(series.style);
            if series.style.dashed {
                ctx.draw_series(DashedLineSeries::new(pts.clone(), 9, 6, style))
                    .map_err(|e| err(&e))?;
            } else {
                ctx.draw_series(LineSeries::new(pts.clone(), style))
                    .map_err(|e| err(&e))?;
            }
            if series.markers {
                let dot = style.color.filled();
                ctx.draw_series(pts.iter().map(|&p| Circle::new(p, 3, dot)))
                    .map_err(|e| err(&e))?;
            }
            let whiskers = series.points.iter().filter_map(|p| {
                let (lo, hi) = p.whisker?;
                if hi <= lo {
                    return None;
                }
                let (x, y) = (chart.x.coord(p.x)?, chart.y.coord(p.y)?);
                let (lo, hi) = (chart.y.coord(lo)?, chart.y.coord(hi)?);
                Some(ErrorBar::new_vertical(
                    x,
                    lo,
                    y,
                    hi,
                    style.stroke_width(1),
                    8,
                ))
            });
            ctx.draw_series(whiskers).map_err(|e| err(&e))?;
        }

        let entries: Vec<(&str, LineStyle)> = chart
            .series
            .iter()
            .map(|s| (s.name.as_str(), s.style))
            .collect();
        draw_legend(&legend_area, &entries, Glyph::Line).map_err(|e| err(&e))?;
        root.present().map_err(|e| err(&e))?;
    }
    Ok(svg)
}

/// A function turning a plotters error into [`ReportError::Chart`] naming `title`.
pub(super) fn chart_error(title: &str) -> impl Fn(&dyn Display) -> ReportError + '_ {
    move |e| ReportError::Chart {
        chart: title.to_string(),
        message: e.to_string(),
    }
}

/// What a legend entry shows before the series name.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Glyph {
    /// A stretch of the series' line (dashed when the series is).
    Line,
    /// A filled dot on a thin whisker, as in a dot plot.
    Dot,
}

/// Draws one legend entry per `(name, style)`, top to bottom from [`LEGEND_TOP`], into the
/// legend column `area`.
pub(super) fn draw_legend<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    entries: &[(&str, LineStyle)],
    glyph: Glyph,
) -> Result<(), DrawingAreaErrorKind<DB::ErrorType>> {
    for (i, (name, style)) in entries.iter().enumerate() {
        let y = (LEGEND_TOP + LEGEND_ROW * i as u32) as i32;
        let line = vec![(8, y), (48, y)];
        let stroke = shape(*style);
        match glyph {
            Glyph::Line if style.dashed => {
                area.draw(&DashedPathElement::new(line, 9, 6, stroke))?;
            }
            Glyph::Line => area.draw(&PathElement::new(line, stroke))?,
            Glyph::Dot => {
                area.draw(&PathElement::new(line, stroke.stroke_width(1)))?;
                area.draw(&Circle::new((28, y), 4, stroke.color.filled()))?;
            }
        }
        area.draw(&Text::new(
            name.to_string(),
            (56, y - 8),
            (role::LEGEND, 15).into_font(),
        ))?;
    }
    Ok(())
}

/// A linear f64 coordinate whose ticks are exactly the given key points.
pub(super) struct KeyedRange {
    range: Range<f64>,
    keys: Vec<f64>,
}

impl KeyedRange {
    pub(super) fn new(lo: f64, hi: f64, keys: Vec<f64>) -> Self {
        let keys = keys.into_iter().filter(|k| (lo..=hi).contains(k)).collect();
        Self {
            range: lo..hi,
            keys,
        }
    }
}

impl Ranged for KeyedRange {
    type FormatOption = DefaultFormatting;
    type ValueType = f64;

    fn map(&self, value: &f64, limit: (i32, i32)) -> i32 {
        let span = self.range.end - self.range.start;
        let t = if span > 0.0 {
            (value - self.range.start) / span
        } else {
            0.0
        };
        limit.0 + (f64::from(limit.1 - limit.0) * t).round() as i32
    }

    fn key_points<Hint: KeyPointHint>(&self, hint: Hint) -> Vec<f64> {
        if hint.weight().allow_light_points() {
            Vec::new()
        } else {
            self.keys.clone()
        }
    }

    fn range(&self) -> Range<f64> {
        self.range.clone()
    }
}

pub(super) fn shape(style: LineStyle) -> ShapeStyle {
    let (r, g, b) = style.color;
    ShapeStyle {
        color: RGBColor(r, g, b).to_rgba(),
        filled: false,
        stroke_width: style.width,
    }
}

/// The label of the tick nearest to coordinate `v`.
pub(super) fn tick_label(ticks: &[(f64, String)], v: f64) -> String {
    ticks
        .iter()
        .min_by(|a, b| (a.0 - v).abs().total_cmp(&(b.0 - v).abs()))
        .map(|t| t.1.clone())
        .unwrap_or_default()
}

/// The coordinate range of `axis` and its ticks (in coordinates), from the data `values`
/// (those the axis cannot show are ignored) and any fixed ticks. Computed ticks are
/// labelled by `axis.label`.
pub(super) fn axis_layout(
    axis: &Axis,
    values: impl IntoIterator<Item = f64>,
) -> (f64, f64, Vec<(f64, String)>) {
    let data: Vec<f64> = values
        .into_iter()
        .filter(|v| axis.coord(*v).is_some())
        .collect();
    let fixed: Vec<f64> = axis.ticks.iter().flatten().map(|t| t.0).collect();
    let all = data.iter().chain(&fixed).copied();
    let (mut lo, mut hi) = all.fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), v| {
        (a.min(v), b.max(v))
    });
    if !lo.is_finite() {
        (lo, hi) = (1.0, 10.0);
    }
    if axis.scale == Scale::Linear {
        lo = lo.min(0.0);
        if hi <= lo {
            hi = lo + 1.0;
        }
    } else if hi <= lo {
        (lo, hi) = (lo / 3.0, hi * 3.0);
    }
    let ticks = match &axis.ticks {
        Some(t) => t.clone(),
        None => {
            // Widen the range to the nearest tick beyond the data when it is close, so the
            // ends of the axis are labelled.
            let (wide_lo, wide_hi) = match axis.scale {
                Scale::Linear => (lo, hi + (hi - lo) / 5.0),
                Scale::Log10 => (lo / 1.6, hi * 1.6),
            };
            let wide = auto_ticks(axis.scale, wide_lo, wide_hi);
            if let Some(t) = wide
                .iter()
                .map(|t| t.0)
                .filter(|t| *t >= hi)
                .reduce(f64::min)
            {
                hi = t;
            }
            if let Some(t) = wide
                .iter()
                .map(|t| t.0)
                .filter(|t| *t <= lo)
                .reduce(f64::max)
            {
                lo = t;
            }
            auto_ticks(axis.scale, lo, hi)
                .into_iter()
                .map(|(v, _)| (v, (axis.label)(v)))
                .collect()
        }
    };
    let coord_ticks: Vec<(f64, String)> = ticks
        .into_iter()
        .filter_map(|(v, l)| Some((axis.coord(v)?, l)))
        .collect();
    let (c_lo, c_hi) = (axis.coord(lo).unwrap_or(0.0), axis.coord(hi).unwrap_or(1.0));
    let pad = match axis.scale {
        Scale::Linear => (c_hi - c_lo) * 0.06,
        Scale::Log10 => ((c_hi - c_lo) * 0.05).max(0.08),
    };
    let lo = if axis.scale == Scale::Linear && c_lo == 0.0 {
        0.0
    } else {
        c_lo - pad
    };
    (lo, c_hi + pad, coord_ticks)
}
