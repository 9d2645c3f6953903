import React, { useEffect, useMemo, useState } from 'react';
import { css } from '@emotion/css';
import { GrafanaTheme2, QueryEditorProps, SelectableValue } from '@grafana/data';
import { Alert, InlineField, InlineFieldRow, InlineSwitch, Input, MultiSelect, RadioButtonGroup, Select, useStyles2 } from '@grafana/ui';

import type { DataSource } from '../datasource';
import {
  Compare,
  CompareOutput,
  Cumulative,
  DEFAULT_QUERY,
  DIMENSIONS,
  INTERVALS,
  INTERVAL_LABELS,
  KpiDataSourceOptions,
  KpiInfo,
  KpiQuery,
  QueryType,
  UPLIFT_DEFAULT_BASELINE_DAYS,
  UPLIFT_MAX_BASELINE_DAYS,
} from '../types';
import { filtersOutside, LIFECYCLE_KPI, queryHints, queryTypeOf, readsCalendar, TYPE_FILTER_DIMENSIONS, validateQuery } from '../validate';
import { AnomalyFields } from './AnomalyFields';
import { DimensionFilters, variableOptions } from './DimensionFilters';

type Props = QueryEditorProps<DataSource, KpiQuery, KpiDataSourceOptions>;

const LABEL_WIDTH = 14;

const QUERY_TYPES: Array<SelectableValue<string>> = [
  { label: 'KPI series', value: QueryType.KPI, description: 'a KPI over time, with comparisons and transforms' },
  { label: 'Insights', value: QueryType.Insights, description: 'what changed on the last day, why, and what to do (a table)' },
  { label: 'Freshness per store', value: QueryType.Freshness, description: "how old each store's newest data is, in seconds" },
  { label: 'Campaign calendar (state timeline)', value: QueryType.Calendar, description: 'campaign phases for the state timeline panel' },
  { label: 'Campaign annotations', value: QueryType.Campaigns, description: 'campaign phases as annotation regions' },
  { label: 'Anomaly annotations', value: QueryType.Anomalies, description: 'runs of flagged anomalies of a KPI as annotation regions' },
];

/** What each query type returns, shown under the type selector. */
const TYPE_INFO: Record<string, string> = {
  [QueryType.Insights]:
    "The morning briefing's table for the last local day of the range that has ended: one row per KPI that moved beyond its normal range, ranked by impact, with the expected value, the explaining dimension and funnel step, the playbook's suggestion and a drill-down link. An empty table says nothing unusual. Filter by one store, or none for the whole business.",
  [QueryType.Freshness]:
    'One series per store: the age in seconds of its newest data at the end of the range (stores silent for 7 days are absent). Alert when above 900 (15 minutes without data).',
  [QueryType.Calendar]:
    'One row per phase change, one text field per campaign holding its phase (warm-up, pre-sale, peak, after-sales): use the state timeline panel.',
  [QueryType.Campaigns]: 'One region per campaign phase overlapping the range (time, timeEnd, title, text, tags): for annotations or a table.',
  [QueryType.Anomalies]:
    'One region per run of flagged buckets of each series (time, timeEnd, title, text, tags, value, expected, score). Interval auto means 1h here.',
};

/** The dimensions each query type filters by (KPI series and anomalies: the KPI's own). */
const TYPE_FILTERS = TYPE_FILTER_DIMENSIONS;

/** Fields only KPI series use: a query of another type must not carry them (the backend checks them for every type). */
const KPI_SERIES_FIELDS: Array<keyof KpiQuery> = [
  'compare',
  'compareOutputs',
  'cumulative',
  'target',
  'topN',
  'contribution',
  'funnel',
  'forecast',
  'lifecycle',
  'uplift',
  'dimension',
];

/** The query as the new type uses it: fields the type does not read are dropped, filters narrowed to its dimensions. */
export function switchQueryType(query: KpiQuery, type: string): KpiQuery {
  const next = { ...query, queryType: type } as Record<string, unknown>;
  if (type === QueryType.KPI) {
    return { ...(next as unknown as KpiQuery), kpi: query.kpi || 'gmv' };
  }
  for (const k of KPI_SERIES_FIELDS) {
    delete next[k];
  }
  if (query.anomaly?.flagOnly) {
    // anomaly annotations show the flagged regions with their values: the backend refuses flagOnly there
    const { flagOnly: _, ...anomaly } = query.anomaly;
    next.anomaly = anomaly;
  }
  const dims = TYPE_FILTERS[type];
  if (dims) {
    for (const k of ['groupBy', 'interval', 'anomaly']) {
      delete next[k];
    }
    next.kpi = '';
    const filters = Object.fromEntries(Object.entries(query.filters ?? {}).filter(([d]) => dims.includes(d)));
    next.filters = Object.keys(filters).length ? filters : undefined;
  }
  return next as unknown as KpiQuery;
}

/**
 * Turning on a transform that cannot be compared (anomaly, forecast, lifecycle, uplift) turns Compare off: new
 * queries compare with last week by default, and the backend refuses the combination.
 */
const NO_COMPARE: Partial<KpiQuery> = { compare: undefined, compareOutputs: undefined };

const COMPARE_OPTIONS: Array<SelectableValue<string>> = [
  { label: 'No comparison', value: 'none' },
  { label: 'Previous period', value: 'previous_period', description: 'the range just before, of the same length' },
  { label: 'Yesterday (1d)', value: '1d' },
  { label: 'Last week (1w)', value: '1w', description: 'same weekday and time last week' },
  { label: '4 weeks ago (4w)', value: '4w' },
  { label: 'Last year (1y)', value: '1y', description: '364 days earlier, so weekdays line up' },
  {
    label: 'Same campaign last year',
    value: 'campaign',
    description: "the range's campaign against last year's campaign of the same kind, aligned on their starts",
  },
];

const OUTPUT_OPTIONS: Array<SelectableValue<CompareOutput>> = [
  { label: 'series', value: 'series', description: 'the earlier period drawn on the current time axis' },
  { label: 'delta', value: 'delta', description: 'current − earlier' },
  { label: 'change', value: 'change', description: '(current − earlier) / |earlier|, as a percentage' },
];

const CUMULATIVE_OPTIONS: Array<SelectableValue<string>> = [
  { label: 'Off', value: 'off' },
  { label: 'Running total', value: 'running', description: 'from the start of the range' },
  { label: 'Month to date', value: 'mtd' },
  { label: 'Year to date', value: 'ytd' },
];

const FORECAST_OPTIONS: Array<SelectableValue<string>> = [
  { label: 'Off', value: 'off' },
  { label: 'End of day', value: 'day' },
  { label: 'End of month', value: 'month' },
];

const UNIT_TEXT: Record<KpiInfo['unit'], string> = {
  currency: 'currency',
  percent: 'percent',
  count: 'count',
  seconds: 'seconds',
  ratio: 'ratio',
};

/** KPI options grouped by area, in the catalog's order. */
export function kpiOptions(kpis: KpiInfo[]): Array<SelectableValue<string>> {
  const groups: Array<SelectableValue<string>> = [];
  for (const k of kpis) {
    let g = groups.find((x) => x.label === k.area);
    if (!g) {
      g = { label: k.area, options: [] };
      groups.push(g);
    }
    g.options!.push({ label: k.name, value: k.id, description: k.description });
  }
  return groups;
}

/** Removes keys whose value is undefined, so the JSON carries only what is set. */
function clean(q: KpiQuery): KpiQuery {
  const out = { ...q } as Record<string, unknown>;
  for (const k of Object.keys(out)) {
    if (out[k] === undefined) {
      delete out[k];
    }
  }
  return out as unknown as KpiQuery;
}

export function QueryEditor({ query, onChange, onRunQuery, datasource, range }: Props) {
  const styles = useStyles2(getStyles);
  const [kpis, setKpis] = useState<KpiInfo[]>([]);
  const [loadError, setLoadError] = useState<string>();

  const type = queryTypeOf(query);

  // A new query works at once: GMV compared with last week.
  useEffect(() => {
    if (query.kpi === undefined && !query.funnel && queryTypeOf(query) === QueryType.KPI) {
      onChange({ ...DEFAULT_QUERY, ...query } as KpiQuery);
    }
  }, [query, onChange]);

  useEffect(() => {
    let live = true;
    datasource.getKpis().then(
      (k) => live && setKpis(k),
      (err) => live && setLoadError(err?.data?.message ?? err?.message ?? String(err))
    );
    return () => {
      live = false;
    };
  }, [datasource]);

  const kpi = useMemo(() => kpis.find((k) => k.id === query.kpi), [kpis, query.kpi]);
  const dims = kpi ? (kpi.dimensions ?? []) : [...DIMENSIONS];
  // compare campaign and uplift take a campaign filter naming calendar campaigns, whatever the KPI's dimensions
  const filterDims = readsCalendar(query) && !dims.includes('campaign') ? [...dims, 'campaign'] : dims;
  const dimOptions: Array<SelectableValue<string>> = dims.map((d) => ({ label: d, value: d }));
  const rangeMs = range ? range.to.valueOf() - range.from.valueOf() : undefined;
  const usesKpi = type === QueryType.KPI || type === QueryType.Anomalies;
  const problems = validateQuery(query, kpis.length ? kpi : undefined, rangeMs);
  if (usesKpi && kpis.length && query.kpi && !kpi && !query.kpi.includes('$')) {
    problems.unshift(`Unknown KPI "${query.kpi}": pick one from the catalog.`);
  }
  const hints = queryHints(query, kpi);

  const commit = (next: KpiQuery) => {
    onChange(next);
    const kpiNext = kpis.find((k) => k.id === next.kpi) ?? kpi;
    if (validateQuery(next, kpiNext, rangeMs).length === 0) {
      onRunQuery();
    }
  };
  const change = (patch: Partial<KpiQuery>) => commit(clean({ ...query, ...patch }));

  const compare = query.compare ?? '';

  const legend = (
    <InlineField label="Legend" labelWidth={LABEL_WIDTH} tooltip="Series name; {{store}}, {{channel}}, {{kpi}}, {{compare}}, {{output}} take the series' labels">
      <Input
        id="alias"
        aria-label="Legend"
        width={30}
        placeholder="auto, e.g. GMV {{store}}"
        defaultValue={query.alias ?? ''}
        onBlur={(e) => {
          const v = e.currentTarget.value.trim();
          if (v !== (query.alias ?? '')) {
            change({ alias: v || undefined });
          }
        }}
      />
    </InlineField>
  );

  return (
    <div className={styles.editor}>
      {loadError && (
        <Alert severity="error" title="Could not load the KPI catalog">
          {loadError}
        </Alert>
      )}
      <InlineFieldRow>
        <InlineField label="Query type" labelWidth={LABEL_WIDTH} tooltip="What the query returns: KPI series, or one of the operational views">
          <RadioButtonGroup<string>
            aria-label="Query type"
            size="sm"
            options={QUERY_TYPES}
            value={type}
            onChange={(t) => t !== type && commit(clean(switchQueryType(query, t)))}
          />
        </InlineField>
      </InlineFieldRow>
      {TYPE_INFO[type] && (
        <div className={styles.info} data-testid="type-info">
          {TYPE_INFO[type]}
        </div>
      )}

      {usesKpi && (
        <InlineFieldRow>
          <InlineField label="KPI" labelWidth={LABEL_WIDTH} tooltip="Catalog of derived KPIs, grouped by area; type to search">
            <Select<string>
              inputId="kpi-select"
              aria-label="KPI"
              width={40}
              isSearchable
              isLoading={!kpis.length && !loadError}
              options={[...kpiOptions(kpis), ...variableOptions()]}
              value={query.kpi || null}
              allowCustomValue
              placeholder="Choose a KPI"
              onChange={(v) => change(v?.value === LIFECYCLE_KPI ? { kpi: v.value, ...NO_COMPARE } : { kpi: v?.value ?? '' })}
            />
          </InlineField>
          {type === QueryType.KPI && legend}
        </InlineFieldRow>
      )}
      {type === QueryType.Freshness && <InlineFieldRow>{legend}</InlineFieldRow>}
      {usesKpi && kpi && (
        <div className={styles.info} data-testid="kpi-info">
          <div>{kpi.description}</div>
          <div>
            <span className={styles.key}>unit</span> {UNIT_TEXT[kpi.unit] ?? kpi.unit} ({kpi.grafanaUnit}) ·{' '}
            <span className={styles.key}>{kpi.direction} is better</span> · <span className={styles.key}>formula</span>{' '}
            <code>{kpi.formula}</code> · <span className={styles.key}>dimensions</span> {dims.join(', ') || 'none'}
          </div>
        </div>
      )}

      <DimensionFilters
        datasource={datasource}
        dimensions={TYPE_FILTERS[type] ? [...TYPE_FILTERS[type], ...filtersOutside(query, TYPE_FILTERS[type])] : filterDims}
        filters={query.filters ?? {}}
        range={range}
        labelWidth={LABEL_WIDTH}
        onChange={(filters) => change({ filters: Object.keys(filters).length ? filters : undefined })}
      />

      {usesKpi && (
        <InlineFieldRow>
          <InlineField label="Group by" labelWidth={LABEL_WIDTH} tooltip="One series per combination of values">
            <MultiSelect<string>
              inputId="group-by"
              aria-label="Group by"
              width={40}
              placeholder="no split"
              options={[...dimOptions, ...variableOptions()]}
              value={query.groupBy ?? []}
              onChange={(sel: Array<SelectableValue<string>>) => {
                const g = sel.map((s) => s.value!).filter(Boolean);
                change({ groupBy: g.length ? g : undefined });
              }}
            />
          </InlineField>
          <InlineField
            label="Interval"
            labelWidth={LABEL_WIDTH}
            tooltip="Bucket size; day, week (Monday), month, quarter and year follow the store time zone; whole range gives one value for the whole time range (for stat panels: distinct counts are counted once over the range)"
          >
            <Select<string>
              inputId="interval"
              aria-label="Interval"
              width={16}
              options={INTERVALS.map((i) => ({ label: INTERVAL_LABELS[i] ?? i, value: i }))}
              value={query.interval ?? 'auto'}
              allowCustomValue
              onChange={(v) => change({ interval: v?.value ?? 'auto' })}
            />
          </InlineField>
        </InlineFieldRow>
      )}

      {type === QueryType.Anomalies && (
        <InlineFieldRow>
          <AnomalyFields anomaly={query.anomaly} labelWidth={LABEL_WIDTH} onChange={(anomaly) => change({ anomaly })} />
        </InlineFieldRow>
      )}

      {type === QueryType.KPI && (
        <>
          <InlineFieldRow>
            <InlineField label="Compare" labelWidth={LABEL_WIDTH}>
              <Select<string>
                inputId="compare"
                aria-label="Compare"
                width={28}
                options={[...COMPARE_OPTIONS, ...variableOptions()]}
                value={compare || 'none'}
                allowCustomValue
                onChange={(v) => {
                  const c = v?.value && v.value !== 'none' ? (v.value as Compare) : undefined;
                  change({ compare: c, compareOutputs: c ? (query.compareOutputs ?? ['series']) : undefined });
                }}
              />
            </InlineField>
            <InlineField label="Show" labelWidth={8} disabled={!compare} tooltip="What the comparison adds">
              <MultiSelect<CompareOutput>
                inputId="compare-outputs"
                aria-label="Compare outputs"
                width={36}
                options={OUTPUT_OPTIONS}
                value={query.compareOutputs ?? []}
                onChange={(sel: Array<SelectableValue<CompareOutput>>) => change({ compareOutputs: sel.map((s) => s.value!) })}
              />
            </InlineField>
          </InlineFieldRow>

          <InlineFieldRow>
            <InlineField label="Cumulative" labelWidth={LABEL_WIDTH} tooltip="Running total, month-to-date or year-to-date (sums only)">
              <Select<string>
                inputId="cumulative"
                aria-label="Cumulative"
                width={20}
                options={CUMULATIVE_OPTIONS}
                value={query.cumulative ?? 'off'}
                onChange={(v) => change({ cumulative: v?.value && v.value !== 'off' ? (v.value as Cumulative) : undefined })}
              />
            </InlineField>
            <InlineField label="Target" labelWidth={8} htmlFor="target" tooltip="Add the stored target and the attainment">
              <InlineSwitch id="target" value={!!query.target} onChange={(e) => change({ target: e.currentTarget.checked || undefined })} />
            </InlineField>
            <InlineField label="Funnel" labelWidth={8} htmlFor="funnel" tooltip="sessions → add-to-cart → orders → paid, with step rates">
              <InlineSwitch id="funnel" value={!!query.funnel} onChange={(e) => change({ funnel: e.currentTarget.checked || undefined })} />
            </InlineField>
          </InlineFieldRow>

          <InlineFieldRow>
            <InlineField label="Anomaly" labelWidth={LABEL_WIDTH} htmlFor="anomaly" tooltip="Expected value and band from the same hour-of-week of past weeks, a score and a flag (turns Compare off)">
              <InlineSwitch
                id="anomaly"
                value={!!query.anomaly}
                onChange={(e) => change(e.currentTarget.checked ? { anomaly: query.anomaly ?? {}, ...NO_COMPARE } : { anomaly: undefined })}
              />
            </InlineField>
            <AnomalyFields anomaly={query.anomaly} disabled={!query.anomaly} showFlagOnly onChange={(anomaly) => change({ anomaly })} />
          </InlineFieldRow>

          <InlineFieldRow>
            <InlineField label="Forecast" labelWidth={LABEL_WIDTH} tooltip="The actual so far and the projected path to the end of the day or month, with an 80 % band (turns Compare off)">
              <Select<string>
                inputId="forecast"
                aria-label="Forecast"
                width={18}
                options={FORECAST_OPTIONS}
                value={query.forecast?.horizon ?? 'off'}
                onChange={(v) => change(v?.value === 'day' || v?.value === 'month' ? { forecast: { horizon: v.value }, ...NO_COMPARE } : { forecast: undefined })}
              />
            </InlineField>
            <InlineField
              label="Lifecycle"
              labelWidth={10}
              htmlFor="lifecycle"
              tooltip="Life-cycle stage (introduction, growth, maturity, decline) per category, or per the group-by dimension, from the sales trend; needs 8 weeks (turns Compare off)"
            >
              <InlineSwitch
                id="lifecycle"
                value={!!query.lifecycle}
                onChange={(e) => change(e.currentTarget.checked ? { lifecycle: true, ...NO_COMPARE } : { lifecycle: undefined })}
              />
            </InlineField>
            <InlineField label="Uplift" labelWidth={8} htmlFor="uplift" tooltip="Per campaign in the range: the KPI during the campaign against its baseline before it (turns Compare off)">
              <InlineSwitch
                id="uplift"
                value={!!query.uplift}
                onChange={(e) => change(e.currentTarget.checked ? { uplift: query.uplift ?? {}, ...NO_COMPARE } : { uplift: undefined })}
              />
            </InlineField>
            <InlineField
              label="Baseline days"
              labelWidth={14}
              disabled={!query.uplift}
              tooltip={`Days before the campaign start that form the baseline (1 to ${UPLIFT_MAX_BASELINE_DAYS}, default ${UPLIFT_DEFAULT_BASELINE_DAYS}; other campaigns' days are left out)`}
            >
              <Input
                id="uplift-baseline"
                aria-label="Uplift baseline days"
                type="number"
                width={8}
                min={1}
                max={UPLIFT_MAX_BASELINE_DAYS}
                placeholder={String(UPLIFT_DEFAULT_BASELINE_DAYS)}
                defaultValue={query.uplift?.baselineDays ?? ''}
                onBlur={(e) => {
                  const raw = e.currentTarget.value.trim();
                  const baselineDays = raw ? Number(raw) : undefined;
                  if (query.uplift && baselineDays !== query.uplift.baselineDays) {
                    change({ uplift: baselineDays === undefined ? {} : { baselineDays } });
                  }
                }}
              />
            </InlineField>
          </InlineFieldRow>

          <InlineFieldRow>
            <InlineField label="Top N" labelWidth={LABEL_WIDTH} tooltip="Keep the n largest values of a dimension, the rest as other; empty is off">
              <Input
                id="topn-n"
                aria-label="Top N count"
                type="number"
                width={8}
                min={1}
                placeholder="off"
                defaultValue={query.topN?.n ?? ''}
                onBlur={(e) => {
                  const raw = e.currentTarget.value.trim();
                  const n = Number(raw);
                  if (!raw) {
                    if (query.topN) {
                      change({ topN: undefined });
                    }
                    return;
                  }
                  if (n !== query.topN?.n) {
                    change({ topN: { n, by: query.topN?.by ?? query.groupBy?.[0] ?? dims[0] ?? 'store' } });
                  }
                }}
              />
            </InlineField>
            <InlineField label="by" labelWidth={5} disabled={!query.topN}>
              <Select<string>
                inputId="topn-by"
                aria-label="Top N by"
                width={18}
                options={[...dimOptions, ...variableOptions()]}
                value={query.topN?.by ?? null}
                onChange={(v) => query.topN && change({ topN: { n: query.topN.n, by: v?.value ?? '' } })}
              />
            </InlineField>
            <InlineField label="Contribution" labelWidth={13} tooltip="Which values of a dimension explain the change against the comparison period">
              <Select<string>
                inputId="contribution"
                aria-label="Contribution"
                width={18}
                options={[{ label: 'Off', value: 'off' }, ...dimOptions]}
                value={query.contribution?.dimension ?? 'off'}
                onChange={(v) => change({ contribution: v?.value && v.value !== 'off' ? { dimension: v.value } : undefined })}
              />
            </InlineField>
          </InlineFieldRow>
        </>
      )}

      {problems.length > 0 && (
        <Alert severity="warning" title="This query cannot run as it is" data-testid="query-problems">
          <ul className={styles.list}>
            {problems.map((p) => (
              <li key={p}>{p}</li>
            ))}
          </ul>
        </Alert>
      )}
      {hints.length > 0 && (
        <Alert severity="info" title="How this query reads" data-testid="query-hints">
          <ul className={styles.list}>
            {hints.map((h) => (
              <li key={h}>{h}</li>
            ))}
          </ul>
        </Alert>
      )}
    </div>
  );
}

const getStyles = (theme: GrafanaTheme2) => ({
  editor: css({ display: 'flex', flexDirection: 'column', gap: theme.spacing(0.5) }),
  info: css({
    color: theme.colors.text.secondary,
    fontSize: theme.typography.bodySmall.fontSize,
    margin: theme.spacing(0, 0, 1, 0),
  }),
  key: css({ color: theme.colors.text.primary }),
  list: css({ margin: 0, paddingLeft: theme.spacing(2) }),
});
