import { KPIS } from '../testdata';
import { KpiInfo, KpiQuery } from '../types';
import { intervalMinutes, isDistinctBased, queryHints, transformsSet, validateQuery } from '../validate';

const kpi = (id: string) => KPIS.find((k) => k.id === id) as KpiInfo;
const q = (fields: Partial<KpiQuery>): KpiQuery => ({ refId: 'A', kpi: 'gmv', ...fields });
const WEEK = 7 * 86400000;

describe('transformsSet', () => {
  it('lists every transform the backend refuses to combine', () => {
    const all = q({
      cumulative: 'running',
      target: true,
      topN: { n: 3, by: 'store' },
      contribution: { dimension: 'store' },
      funnel: true,
      anomaly: {},
      forecast: { horizon: 'day' },
      lifecycle: true,
      uplift: {},
    });
    expect(transformsSet(all)).toEqual(['cumulative', 'target', 'top N', 'contribution', 'funnel', 'anomaly', 'forecast', 'lifecycle', 'uplift']);
    expect(transformsSet(q({}))).toEqual([]);
  });
});

describe('validateQuery', () => {
  it('has no planned options any more: forecast, lifecycle and uplift are accepted', () => {
    expect(validateQuery(q({ forecast: { horizon: 'month' } }), kpi('gmv'))).toEqual([]);
    expect(validateQuery(q({ lifecycle: true }), kpi('gmv'), 12 * WEEK)).toEqual([]);
    expect(validateQuery(q({ uplift: {} }), kpi('gmv'))).toEqual([]);
    expect(validateQuery(q({ anomaly: { sensitivity: 'low', weeks: 4 } }), kpi('gmv'))).toEqual([]);
  });

  it('accepts the query types that need no KPI', () => {
    for (const queryType of ['freshness', 'calendar', 'campaigns']) {
      expect(validateQuery(q({ queryType, kpi: '' }), undefined)).toEqual([]);
    }
    expect(validateQuery(q({ queryType: 'dimensions', kpi: '' }), undefined)).toEqual(['Pick the dimension whose values to list.']);
  });

  it('checks insights: one store or none, no other filter, a range holding a whole day', () => {
    const DAY = 86400000;
    expect(validateQuery(q({ queryType: 'insights', kpi: '' }), undefined, 7 * DAY)).toEqual([]);
    expect(validateQuery(q({ queryType: 'insights', kpi: '', filters: { store: ['s001'] } }), undefined, DAY - 1)).toEqual([]);
    expect(validateQuery(q({ queryType: 'insights', kpi: '', filters: { store: ['s001', 's002'] } }), undefined, 7 * DAY)).toEqual([
      'Insights take one store or all of them: choose one store, or none for the whole business.',
    ]);
    expect(validateQuery(q({ queryType: 'insights', kpi: '', filters: { channel: ['app'] } }), undefined, 7 * DAY)).toEqual([
      'Insights are for the whole business or one store: clear the channel filter.',
    ]);
    expect(validateQuery(q({ queryType: 'insights', kpi: '' }), undefined, 6 * 3600000)).toEqual([
      'Insights brief the last whole local day of the range: choose a range that holds one, such as Yesterday or the last 2 days.',
    ]);
  });

  it('checks the life-cycle range only when it is known, and exactly at 8 weeks', () => {
    expect(validateQuery(q({ lifecycle: true }), kpi('gmv'))).toEqual([]);
    expect(validateQuery(q({ lifecycle: true }), kpi('gmv'), 8 * WEEK)).toEqual([]);
    expect(validateQuery(q({ kpi: 'lifecycle_stage' }), kpi('lifecycle_stage'), 8 * WEEK - 1)).toHaveLength(1);
  });

  it('reads the campaign filter of uplift as calendar campaigns, not as a data filter', () => {
    const storeOnly = { ...kpi('aov'), dimensions: ['store'] };
    expect(validateQuery(q({ kpi: 'aov', uplift: {}, filters: { campaign: ['d11'] } }), storeOnly)).toEqual([]);
    expect(validateQuery(q({ kpi: 'aov', filters: { campaign: ['d11'] } }), storeOnly)).toEqual(['AOV cannot be filtered by campaign: its data only carries store.']);
    expect(queryHints(q({ kpi: 'aov', uplift: {}, filters: { campaign: ['d11'] } }), storeOnly).join(' ')).toContain('names the calendar campaigns');
  });

  it('counts a variable compare as a comparison', () => {
    expect(validateQuery(q({ contribution: { dimension: 'store' }, compare: '$compare' as KpiQuery['compare'], compareOutputs: ['series'] }), kpi('gmv'))).toEqual([]);
  });

  it('knows what quarter, year and the whole range combine with', () => {
    expect(validateQuery(q({ kpi: 'stickiness', interval: 'quarter' }), kpi('stickiness'))).toEqual([]);
    expect(validateQuery(q({ kpi: 'stickiness', interval: 'range' }), kpi('stickiness'))).toEqual([]);
    expect(validateQuery(q({ kpi: 'active_users', interval: 'year' }), kpi('active_users'))).toEqual([]);
    expect(validateQuery(q({ cumulative: 'ytd', interval: 'quarter' }), kpi('gmv'))).toEqual([]);
    expect(validateQuery(q({ cumulative: 'running', interval: 'range' }), kpi('gmv'))).toEqual([]);
    expect(validateQuery(q({ cumulative: 'mtd', interval: 'quarter' }), kpi('gmv'))).toEqual([
      'Cumulative mtd restarts each month: a quarter bucket can cross a month boundary. Use day or month.',
    ]);
    expect(validateQuery(q({ cumulative: 'ytd', interval: 'range' }), kpi('gmv'))).toEqual([
      'Cumulative ytd restarts each year: a whole-range bucket can cross a year boundary. Use day or month, quarter or year.',
    ]);
    expect(validateQuery(q({ target: true, interval: 'year' }), kpi('gmv'))).toEqual(['Targets are set per day, week or month: use one of those intervals with Target.']);
    expect(validateQuery(q({ anomaly: {}, interval: 'range' }), kpi('gmv')).join(' ')).toContain('use an interval of 1h or finer');
    expect(queryHints(q({ kpi: 'active_users', interval: 'range' }), kpi('active_users')).join(' ')).toContain('each user once');
  });

  it('leaves an interval variable or auto to the backend for anomalies', () => {
    expect(validateQuery(q({ anomaly: {}, interval: '$step' }), kpi('gmv'))).toEqual([]);
    expect(validateQuery(q({ anomaly: {}, interval: 'auto' }), kpi('gmv'))).toEqual([]);
    expect(validateQuery(q({ anomaly: {}, interval: '1h' }), kpi('gmv'))).toEqual([]);
  });
});

describe('helpers', () => {
  it('reads interval lengths', () => {
    expect(intervalMinutes('5m')).toBe(5);
    expect(intervalMinutes('2h')).toBe(120);
    expect(intervalMinutes('week')).toBe(Infinity);
    expect(intervalMinutes('quarter')).toBe(Infinity);
    expect(intervalMinutes('year')).toBe(Infinity);
    expect(intervalMinutes('range')).toBe(Infinity);
    expect(intervalMinutes('auto')).toBeUndefined();
    expect(intervalMinutes('$step')).toBeUndefined();
  });

  it('knows which KPIs count distinct users', () => {
    expect(isDistinctBased(kpi('active_users'))).toBe(true);
    expect(isDistinctBased(kpi('conversion_rate'))).toBe(true);
    expect(isDistinctBased(kpi('aov'))).toBe(false);
    expect(isDistinctBased(kpi('gmv'))).toBe(false);
  });

  it('explains the forecast outputs', () => {
    expect(queryHints(q({ forecast: { horizon: 'day' } }), kpi('gmv')).join(' ')).toContain('the GMV so far in the current day (output actual)');
    expect(queryHints(q({ queryType: 'freshness', compare: 'campaign' }), undefined)).toEqual([]);
  });
});
