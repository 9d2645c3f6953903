import {
  ANOMALY_MAX_WEEKS,
  ANOMALY_MIN_WEEKS,
  CALENDAR_INTERVALS,
  RANGE_INTERVAL,
  TARGET_INTERVALS,
  KpiInfo,
  KpiQuery,
  LIFECYCLE_MIN_WEEKS,
  QueryType,
  UPLIFT_MAX_BASELINE_DAYS,
} from './types';

/** The KPI ids of the catalog's transform entries that the backend serves as a query of their own. */
export const LIFECYCLE_KPI = 'lifecycle_stage';
export const UPLIFT_KPI = 'campaign_uplift';

/**
 * The transforms of which one query may use at most one: the backend refuses combinations
 * (models.checkTransforms), so the editor names them before the query runs.
 */
export function transformsSet(q: KpiQuery): string[] {
  const set: Array<[string, boolean]> = [
    ['cumulative', !!q.cumulative],
    ['target', !!q.target],
    ['top N', !!q.topN],
    ['contribution', !!q.contribution],
    ['funnel', !!q.funnel],
    ['anomaly', !!q.anomaly],
    ['forecast', !!q.forecast],
    ['lifecycle', !!q.lifecycle || q.kpi === LIFECYCLE_KPI],
    ['uplift', !!q.uplift],
  ];
  return set.filter(([, on]) => on).map(([name]) => name);
}

const isVariable = (s: string | undefined) => !!s && s.includes('$');

const DAY_MS = 24 * 3600 * 1000;

/** The dimensions the query types without a KPI can be filtered by (the backend refuses others). */
export const TYPE_FILTER_DIMENSIONS: Record<string, string[]> = {
  [QueryType.Freshness]: ['store'],
  [QueryType.Insights]: ['store'],
  [QueryType.Calendar]: ['store', 'campaign'],
  [QueryType.Campaigns]: ['store', 'campaign'],
};

/** The dimensions outside dims that the query filters on. */
export function filtersOutside(q: KpiQuery, dims: string[]): string[] {
  return Object.entries(q.filters ?? {})
    .filter(([dim, vals]) => !dims.includes(dim) && vals.length > 0)
    .map(([dim]) => dim);
}

/** The query type, empty read as KPI series (as the backend does). */
export function queryTypeOf(q: KpiQuery): string {
  return q.queryType || QueryType.KPI;
}

/** Whether the KPI counts distinct users (alone or in a ratio): such values add up neither over time nor across values. */
export function isDistinctBased(kpi: KpiInfo): boolean {
  return kpi.kind === 'distinct' || (kpi.kind === 'ratio' && (!!kpi.numerator?.distinct || !!kpi.denominator?.distinct));
}

/** Minutes of a duration interval ("5m", "1h"), Infinity for calendar intervals and the whole range, undefined for auto or a variable. */
export function intervalMinutes(interval: string | undefined): number | undefined {
  if (!interval || interval === 'auto' || isVariable(interval)) {
    return undefined;
  }
  if (CALENDAR_INTERVALS.includes(interval) || interval === RANGE_INTERVAL) {
    return Infinity;
  }
  const m = interval.match(/^(\d+)(m|h)$/);
  if (!m) {
    return undefined;
  }
  return Number(m[1]) * (m[2] === 'h' ? 60 : 1);
}

const SENSITIVITIES = ['low', 'medium', 'high'];

/** Problems of the anomaly settings and of the KPI and interval the detection runs on (anomaly series and annotations). */
function anomalyProblems(q: KpiQuery, kpi: KpiInfo | undefined, annotations: boolean): string[] {
  const out: string[] = [];
  const a = q.anomaly ?? {};
  const s = a.sensitivity;
  if (s !== undefined) {
    if (typeof s === 'string' && !SENSITIVITIES.includes(s)) {
      out.push(`Anomaly sensitivity "${s}" is unknown: choose low, medium, high, or a number of spreads.`);
    } else if (typeof s === 'number' && !(s > 0 && s <= 100)) {
      out.push('Anomaly sensitivity as a number is the band width in spreads: more than 0 and at most 100 (3 is usual; lower flags more).');
    }
  }
  if (a.weeks !== undefined && (!Number.isInteger(a.weeks) || a.weeks < ANOMALY_MIN_WEEKS || a.weeks > ANOMALY_MAX_WEEKS)) {
    out.push(`Anomaly history must be ${ANOMALY_MIN_WEEKS} to ${ANOMALY_MAX_WEEKS} whole weeks (default 6).`);
  }
  const minutes = intervalMinutes(q.interval);
  if (minutes !== undefined && minutes > 60) {
    out.push(
      'Anomaly bands come from the same hour-of-week of past weeks: use an interval of 1h or finer (or auto' +
        (annotations ? ', which means 1h here' : ' on a range short enough to resolve to 1h or finer') +
        ').'
    );
  }
  if (annotations && a.flagOnly) {
    out.push('Flag only is for KPI series (alert rules): anomaly annotations already show the flagged regions. Turn it off.');
  }
  if (q.compare) {
    out.push('Anomaly detection cannot be combined with Compare: the band already comes from past weeks. Turn Compare off, or use a second query for the comparison.');
  }
  if (kpi && (kpi.kind === 'stickiness' || kpi.kind === 'cumulative')) {
    out.push(`Anomaly detection needs a KPI that is a sum, a ratio or a distinct count per bucket; ${kpi.name} is not.`);
  }
  return out;
}

/** Plain-language problems of the KPI catalog's transform entries (campaign uplift, life-cycle stage). */
function transformKpiProblems(q: KpiQuery, kpi: KpiInfo): string[] {
  switch (kpi.id) {
    case LIFECYCLE_KPI:
      return []; // served as GMV by category with the life-cycle transform
    case UPLIFT_KPI:
      return [
        'Campaign uplift is not a KPI of its own: pick the KPI to measure (GMV, orders, conversion rate, …) and turn on Uplift; ' +
          'it gives one row per campaign with the KPI during the campaign, its baseline and the uplift.',
      ];
    default:
      return [`${kpi.name} is computed by a transform, not as a series of its own${kpi.note ? ` (${kpi.note})` : ''}.`];
  }
}

/**
 * Problems of a query the operator should fix before the panel runs it, in plain words, mirroring the
 * backend's rules (models.ParseQuery and the engine). An empty list means the backend should accept the query.
 * rangeMs is the dashboard's time range, for rules that depend on it (life-cycle needs 8 weeks).
 */
export function validateQuery(q: KpiQuery, kpi: KpiInfo | undefined, rangeMs?: number): string[] {
  const type = queryTypeOf(q);
  switch (type) {
    case QueryType.Freshness: {
      const others = filtersOutside(q, TYPE_FILTER_DIMENSIONS[type]);
      return others.length ? [`Freshness is per store: it can be filtered by store only; clear the ${others.join(', ')} filter.`] : [];
    }
    case QueryType.Insights: {
      const out: string[] = [];
      const others = filtersOutside(q, TYPE_FILTER_DIMENSIONS[type]);
      if (others.length) {
        out.push(`Insights are for the whole business or one store: clear the ${others.join(', ')} filter.`);
      }
      const stores = q.filters?.store ?? [];
      if (stores.length > 1) {
        out.push('Insights take one store or all of them: choose one store, or none for the whole business.');
      }
      if (rangeMs !== undefined && rangeMs < DAY_MS - 1000) {
        out.push('Insights brief the last whole local day of the range: choose a range that holds one, such as Yesterday or the last 2 days.');
      }
      return out;
    }
    case QueryType.Campaigns:
    case QueryType.Calendar: {
      const others = filtersOutside(q, TYPE_FILTER_DIMENSIONS[type]);
      return others.length ? [`Campaigns can be filtered by store and campaign only; clear the ${others.join(', ')} filter.`] : [];
    }
    case QueryType.Dimensions:
      return q.dimension ? [] : ['Pick the dimension whose values to list.'];
    case QueryType.Anomalies:
      if (!q.kpi) {
        return ['Pick the KPI whose anomalies to show.'];
      }
      return [...dimensionProblems(q, kpi), ...anomalyProblems(q, kpi, true)];
  }
  if (!q.kpi && !q.funnel) {
    return ['Pick a KPI.'];
  }
  const out: string[] = [];
  const lifecycle = !!q.lifecycle || q.kpi === LIFECYCLE_KPI;
  if (kpi) {
    if (kpi.kind === 'transform') {
      out.push(...transformKpiProblems(q, kpi));
    }
    out.push(...dimensionProblems(q, kpi));
    if (kpi.kind === 'stickiness' && intervalMinutes(q.interval) !== undefined && intervalMinutes(q.interval) !== Infinity) {
      out.push(`${kpi.name} needs an interval of at least a day (day, week, month, quarter, year, whole range or auto).`);
    }
    if (q.cumulative && ['ratio', 'distinct', 'stickiness', 'cumulative'].includes(kpi.kind)) {
      out.push(
        kpi.kind === 'cumulative'
          ? `${kpi.name} is already cumulative; turn Cumulative off.`
          : `A running total of ${kpi.name} means nothing (${kpi.kind === 'ratio' ? 'a ratio' : 'a distinct count'} does not add up over time); cumulative works on sums such as GMV or orders.`
      );
    }
    if (q.topN && q.topN.by && !isVariable(q.topN.by) && !(kpi.dimensions ?? []).includes(q.topN.by)) {
      out.push(`Top N by ${q.topN.by}: ${kpi.name} has no ${q.topN.by} dimension.`);
    }
    if (q.contribution && q.contribution.dimension && !(kpi.dimensions ?? []).includes(q.contribution.dimension)) {
      out.push(`Contribution by ${q.contribution.dimension}: ${kpi.name} has no ${q.contribution.dimension} dimension.`);
    }
    if (q.forecast && kpi.kind !== 'transform' && ((kpi.kind !== 'sum' && kpi.kind !== 'ratio') || isDistinctBased(kpi))) {
      out.push(
        `A forecast of ${kpi.name} is not possible: ` +
          (isDistinctBased(kpi)
            ? 'distinct counts do not add up over hours or days (the same user comes back). '
            : `${kpi.kind === 'cumulative' ? 'it is already a running total' : 'it is not a sum or a ratio of sums'}. `) +
          'Forecast works on sums such as GMV or orders and on ratios of sums such as AOV.'
      );
    }
    if (lifecycle && kpi.kind !== 'transform' && (kpi.kind !== 'sum' || isDistinctBased(kpi))) {
      out.push(
        `Life-cycle stages come from a sales trend: ${kpi.name} is ${kpi.kind === 'ratio' ? 'a ratio' : kpi.kind === 'distinct' ? 'a distinct count' : `a ${kpi.kind} value`}; use a sum such as GMV, orders or sessions.`
      );
    }
    if (q.uplift && kpi.kind !== 'transform' && ((kpi.kind !== 'sum' && kpi.kind !== 'ratio') || isDistinctBased(kpi))) {
      out.push(
        `Campaign uplift of ${kpi.name} is not possible: ` +
          (isDistinctBased(kpi)
            ? 'a distinct count has no per-day average to compare with a baseline. '
            : 'it is not a sum or a ratio of sums. ') +
          'Uplift works on sums such as GMV or orders and on ratios of sums such as AOV.'
      );
    }
  }
  out.push(...intervalProblems(q));
  if (q.compareOutputs && q.compareOutputs.length === 0 && q.compare) {
    out.push('Compare is set but no compare output is chosen: pick series, delta or change.');
  }
  if (q.topN) {
    if (!Number.isInteger(q.topN.n) || q.topN.n < 1) {
      out.push('Top N needs a whole number of at least 1.');
    }
    if (!q.topN.by) {
      out.push('Top N needs a dimension to rank (by).');
    }
    if (q.groupBy?.length && q.topN.by && (q.groupBy.length !== 1 || q.groupBy[0] !== q.topN.by)) {
      out.push(`Top N by ${q.topN.by} splits the series by ${q.topN.by} itself: group by must be empty or just ${q.topN.by}.`);
    }
  }
  if (q.contribution && !q.compare) {
    out.push('Contribution explains a change: choose a comparison period (Compare) first.');
  }
  if (q.anomaly) {
    out.push(...anomalyProblems(q, kpi, false));
  }
  if (q.forecast && q.forecast.horizon !== 'day' && q.forecast.horizon !== 'month') {
    out.push('Forecast needs a horizon: the end of the day or the end of the month.');
  }
  if (q.forecast && q.compare) {
    out.push('Forecast cannot be combined with Compare: it projects the current day or month from its own history. Turn Compare off, or use a second query for the comparison.');
  }
  if (lifecycle && q.compare) {
    out.push("Life-cycle stages cannot be combined with Compare: the stage comes from the range's own trend. Turn Compare off.");
  }
  if (lifecycle) {
    if ((q.groupBy?.length ?? 0) > 1) {
      out.push('Life-cycle stages are per value of one dimension: group by one dimension (category when empty).');
    }
    if (rangeMs !== undefined && rangeMs < LIFECYCLE_MIN_WEEKS * 7 * 86400000) {
      out.push(
        `Life-cycle stages come from the sales trend of at least ${LIFECYCLE_MIN_WEEKS} whole weeks (Monday to Sunday): choose a longer time range (e.g. the last 90 days).`
      );
    }
  }
  const baseline = q.uplift?.baselineDays;
  if (baseline !== undefined && (!Number.isInteger(baseline) || baseline < 1 || baseline > UPLIFT_MAX_BASELINE_DAYS)) {
    out.push(`Uplift baseline must be 1 to ${UPLIFT_MAX_BASELINE_DAYS} whole days before the campaign (28 when empty).`);
  }
  if (q.uplift && q.compare) {
    out.push('Uplift cannot be combined with Compare: the baseline before each campaign is its comparison. Turn Compare off.');
  }
  const transforms = transformsSet(q);
  if (transforms.length > 1) {
    out.push(`${transforms.join(' and ')} cannot be combined in one query: use one query per transform.`);
  }
  return out;
}

/** The transforms that cannot use the chosen interval (the backend refuses them alike). */
function intervalProblems(q: KpiQuery): string[] {
  const iv = q.interval;
  if (!iv || isVariable(iv) || intervalMinutes(iv) !== Infinity) {
    return []; // auto, a variable or a duration: the backend decides
  }
  const out: string[] = [];
  const crosses =
    (q.cumulative === 'mtd' && !['day', 'month'].includes(iv)) ||
    (q.cumulative === 'ytd' && !['day', 'month', 'quarter', 'year'].includes(iv));
  if (crosses) {
    const period = q.cumulative === 'mtd' ? 'month' : 'year';
    out.push(`Cumulative ${q.cumulative} restarts each ${period}: a ${iv === RANGE_INTERVAL ? 'whole-range' : iv} bucket can cross a ${period} boundary. Use day or month${q.cumulative === 'ytd' ? ', quarter or year' : ''}.`);
  }
  if (q.target && !TARGET_INTERVALS.includes(iv)) {
    out.push('Targets are set per day, week or month: use one of those intervals with Target.');
  }
  return out;
}

/**
 * Whether the query reads the campaign calendar (compare with the same campaign last year, uplift): its campaign
 * filter then names calendar campaigns rather than filtering the data by the campaign tag.
 */
export function readsCalendar(q: KpiQuery): boolean {
  return queryTypeOf(q) === QueryType.KPI && (q.compare === 'campaign' || !!q.uplift);
}

/** Filters and group-by on dimensions the KPI's data does not carry. */
function dimensionProblems(q: KpiQuery, kpi: KpiInfo | undefined): string[] {
  if (!kpi) {
    return [];
  }
  const out: string[] = [];
  const dims = kpi.dimensions ?? [];
  for (const [dim, vals] of Object.entries(q.filters ?? {})) {
    if (dim === 'campaign' && readsCalendar(q)) {
      continue; // names calendar campaigns, does not filter the data
    }
    if (vals.length > 0 && !dims.includes(dim)) {
      out.push(`${kpi.name} cannot be filtered by ${dim}: its data only carries ${dims.join(', ') || 'no dimensions'}.`);
    }
  }
  for (const dim of q.groupBy ?? []) {
    if (!isVariable(dim) && !dims.includes(dim)) {
      out.push(`${kpi.name} cannot be grouped by ${dim}: its data only carries ${dims.join(', ') || 'no dimensions'}.`);
    }
  }
  return out;
}

/**
 * What the chosen options will do, in plain words: not problems, but the explanations an operator needs to
 * read the result (the same campaign last year, the life-cycle default, the table transforms).
 */
export function queryHints(q: KpiQuery, kpi: KpiInfo | undefined): string[] {
  const out: string[] = [];
  if (queryTypeOf(q) !== QueryType.KPI) {
    return out;
  }
  if (q.compare === 'campaign') {
    out.push(
      'Same campaign last year: the campaign overlapping the range (or the one chosen in the campaign filter) is matched to ' +
        "last year's campaign of the same kind, and the range is moved back by the distance between their starts. " +
        'The query fails when the range overlaps no campaign, overlaps campaigns of several kinds (name one in the campaign filter) or last year had none of that kind.'
    );
  }
  if (readsCalendar(q) && q.filters?.campaign?.length) {
    out.push('The campaign filter names the calendar campaigns to measure here; it does not filter the data by campaign.');
  }
  if (q.kpi === LIFECYCLE_KPI && !q.lifecycle) {
    out.push('Life-cycle stage is GMV by category with the life-cycle transform: one table row per category with its stage.');
  }
  if (q.lifecycle || q.kpi === LIFECYCLE_KPI) {
    out.push(
      `Life-cycle: one table row per ${q.groupBy?.[0] ?? 'category'} with its stage (introduction, growth, maturity, decline), ` +
        'weekly growth, the KPI over the last 4 weeks and its share; the range needs at least 8 weeks.'
    );
  }
  if (q.uplift) {
    out.push(
      `Uplift: one table row per campaign overlapping the range, the ${kpi?.name ?? 'KPI'} per day during it against the ` +
        `${q.uplift.baselineDays ?? 28} days before its start (other campaigns' days left out).`
    );
  }
  if (q.interval === RANGE_INTERVAL) {
    out.push(
      `Whole range: one value of ${kpi?.name ?? 'the KPI'} for the whole time range, at its start (sums to the minute, distinct counts to the hour: ` +
        'each user once, however many days they came back). Show it in a stat panel with the calculation "Last".'
    );
  }
  if (q.forecast) {
    out.push(
      `Forecast: the ${kpi?.name ?? 'KPI'} so far in the current ${q.forecast.horizon} (output actual), the projected path to its end ` +
        '(forecast; reduce with "last" for the expected end value), an 80 % band (lower, upper) and the target when one is stored.'
    );
  }
  return out;
}
