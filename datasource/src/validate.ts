import { CALENDAR_INTERVALS, KpiInfo, KpiQuery } from './types';

/** The designed query options the backend still refuses as "not implemented yet" (docs/query.md). */
export function plannedOptions(q: KpiQuery): string[] {
  const set: Array<[string, boolean]> = [
    ['anomaly', !!q.anomaly],
    ['forecast', !!q.forecast],
  ];
  return set.filter(([, on]) => on).map(([name]) => name);
}

/** The transforms of which one query may use at most one (the backend refuses combinations). */
export function transformsSet(q: KpiQuery): string[] {
  const set: Array<[string, boolean]> = [
    ['cumulative', !!q.cumulative],
    ['target', !!q.target],
    ['top N', !!q.topN],
    ['contribution', !!q.contribution],
    ['funnel', !!q.funnel],
  ];
  return set.filter(([, on]) => on).map(([name]) => name);
}

const isVariable = (s: string | undefined) => !!s && s.includes('$');

/**
 * Problems of a query the operator should fix before the panel runs it, in plain words. An empty list means
 * the query is consistent (the backend may still refuse a planned option, see plannedOptions).
 */
export function validateQuery(q: KpiQuery, kpi: KpiInfo | undefined): string[] {
  const out: string[] = [];
  if (!q.kpi && !q.funnel) {
    return ['Pick a KPI.'];
  }
  if (kpi) {
    if (kpi.kind === 'transform') {
      out.push(`${kpi.name} is planned and cannot be computed yet${kpi.note ? ` (${kpi.note})` : ''}.`);
    }
    const dims = kpi.dimensions ?? [];
    for (const [dim, vals] of Object.entries(q.filters ?? {})) {
      if (vals.length > 0 && !dims.includes(dim)) {
        out.push(`${kpi.name} cannot be filtered by ${dim}: its data only carries ${dims.join(', ') || 'no dimensions'}.`);
      }
    }
    for (const dim of q.groupBy ?? []) {
      if (!isVariable(dim) && !dims.includes(dim)) {
        out.push(`${kpi.name} cannot be grouped by ${dim}: its data only carries ${dims.join(', ') || 'no dimensions'}.`);
      }
    }
    if (kpi.kind === 'stickiness' && q.interval && !isVariable(q.interval) && q.interval !== 'auto' && !CALENDAR_INTERVALS.includes(q.interval)) {
      out.push(`${kpi.name} needs an interval of at least a day (day, week, month or auto).`);
    }
    if (q.cumulative && ['ratio', 'distinct', 'stickiness', 'cumulative'].includes(kpi.kind)) {
      out.push(
        kpi.kind === 'cumulative'
          ? `${kpi.name} is already cumulative; turn Cumulative off.`
          : `A running total of ${kpi.name} means nothing (${kpi.kind === 'ratio' ? 'a ratio' : 'a distinct count'} does not add up over time); cumulative works on sums such as GMV or orders.`
      );
    }
    if (q.topN && q.topN.by && !isVariable(q.topN.by) && !dims.includes(q.topN.by)) {
      out.push(`Top N by ${q.topN.by}: ${kpi.name} has no ${q.topN.by} dimension.`);
    }
    if (q.contribution && q.contribution.dimension && !dims.includes(q.contribution.dimension)) {
      out.push(`Contribution by ${q.contribution.dimension}: ${kpi.name} has no ${q.contribution.dimension} dimension.`);
    }
  }
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
    if (!(q.anomaly.sensitivity > 0)) {
      out.push('Anomaly sensitivity must be a positive number of MADs (3 is usual).');
    }
    if (q.interval && ['week', 'month'].includes(q.interval)) {
      out.push('Anomaly bands come from the same hour-of-week of past weeks: use an interval of a day or less.');
    }
    if (q.cumulative) {
      out.push('Anomaly detection and cumulative cannot be combined: anomalies are judged per bucket.');
    }
  }
  if (q.forecast && q.forecast.horizon === 'day' && q.interval && ['day', 'week', 'month'].includes(q.interval)) {
    out.push('A forecast to the end of the day needs buckets shorter than a day.');
  }
  const transforms = transformsSet(q);
  if (transforms.length > 1) {
    out.push(`${transforms.join(' and ')} cannot be combined in one query: use one query per transform.`);
  }
  return out;
}
