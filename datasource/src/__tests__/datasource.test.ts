import { DataQueryRequest, dataFrameToJSON, FieldType, createDataFrame, DataFrame } from '@grafana/data';
import { BackendSrv, setBackendSrv } from '@grafana/runtime';
import { lastValueFrom, of } from 'rxjs';

import { applyAlias, DataSource, expandGlob } from '../datasource';
import { fakeTemplateSrv } from '../fakeTemplateSrv';
import { instanceSettings, KPIS, range } from '../testdata';
import { DEFAULT_QUERY, KpiQuery, KpiVariableQuery } from '../types';

/** The backend: getResource and query both go through BackendSrv.fetch. */
const backendSrv = { fetch: jest.fn() };
const resource = (data: unknown) => of({ data, status: 200, ok: true });

const templateSrv = fakeTemplateSrv([
  { name: 'store', current: ['tmall-01', 'jd-02'], options: ['tmall-01', 'jd-02', 'shop-03'] },
  { name: 'channel', current: ['$__all'], options: ['app', 'web'] },
  { name: 'one', current: 'shop-03' },
  { name: 'kpi', current: 'aov' },
  { name: 'dims', current: ['store', 'channel'] },
  { name: 'cat', current: '$__all', options: ['shoes'], allValue: 'shoes' },
  { name: 'step', current: 'day' },
  { name: 'compare', current: 'campaign' },
  { name: 'nocompare', current: '' },
]);

function newDS() {
  return new DataSource(instanceSettings, templateSrv);
}

beforeEach(() => {
  backendSrv.fetch.mockReset();
  setBackendSrv(backendSrv as unknown as BackendSrv);
});

describe('applyTemplateVariables', () => {
  const base: KpiQuery = { refId: 'A', kpi: 'gmv' };

  it('expands a multi-value variable into its values', () => {
    const q = newDS().applyTemplateVariables({ ...base, filters: { store: ['$store'] } }, {});
    expect(q.filters).toEqual({ store: ['tmall-01', 'jd-02'] });
  });

  it('drops the filter of an All selection (no filter), in every syntax', () => {
    for (const ref of ['$channel', '${channel}', '${channel:csv}', '[[channel]]']) {
      const q = newDS().applyTemplateVariables({ ...base, filters: { channel: [ref], store: ['$one'] } }, {});
      expect(q.filters).toEqual({ store: ['shop-03'] });
    }
  });

  it('sends a custom all value as it is', () => {
    const q = newDS().applyTemplateVariables({ ...base, filters: { category: ['$cat'] } }, {});
    expect(q.filters).toEqual({ category: ['shoes'] });
  });

  it('mixes variables and plain values without duplicates', () => {
    const q = newDS().applyTemplateVariables({ ...base, filters: { store: ['jd-02', '$store', 'pdd-9'] } }, {});
    expect(q.filters).toEqual({ store: ['jd-02', 'tmall-01', 'pdd-9'] });
  });

  it('uses scoped variables of a repeated panel over the dashboard selection', () => {
    const q = newDS().applyTemplateVariables(
      { ...base, filters: { store: ['$store'] } },
      { store: { text: 'jd-02', value: 'jd-02' } }
    );
    expect(q.filters).toEqual({ store: ['jd-02'] });
  });

  it('interpolates kpi, interval, group by (multi-value) and keeps the version', () => {
    const q = newDS().applyTemplateVariables({ ...base, kpi: '$kpi', interval: '$step', groupBy: ['$dims'] }, {});
    expect(q).toMatchObject({ kpi: 'aov', interval: 'day', groupBy: ['store', 'channel'], version: 1 });
  });

  it('interpolates the comparison (the drill-down $compare variable, including the same campaign last year)', () => {
    const q = newDS().applyTemplateVariables({ ...base, compare: '$compare' as KpiQuery['compare'], compareOutputs: ['series', 'change'] }, {});
    expect(q).toMatchObject({ compare: 'campaign', compareOutputs: ['series', 'change'] });
    const scoped = newDS().applyTemplateVariables({ ...base, compare: '${compare}' as KpiQuery['compare'] }, { compare: { text: '1y', value: '1y' } });
    expect(scoped.compare).toBe('1y');
  });

  it('drops a comparison whose variable is empty or none, with its outputs', () => {
    for (const value of ['$nocompare', 'none']) {
      const q = newDS().applyTemplateVariables({ ...base, compare: value as KpiQuery['compare'], compareOutputs: ['series'] }, {});
      expect(q.compare).toBeUndefined();
      expect(q.compareOutputs).toBeUndefined();
    }
  });

  it('passes the new transforms through unchanged', () => {
    const q = newDS().applyTemplateVariables(
      { ...base, forecast: { horizon: 'day' }, lifecycle: true, uplift: { baselineDays: 14 }, anomaly: { sensitivity: 'high', weeks: 8 } },
      {}
    );
    expect(q).toMatchObject({ forecast: { horizon: 'day' }, lifecycle: true, uplift: { baselineDays: 14 }, anomaly: { sensitivity: 'high', weeks: 8 } });
  });

  it('keeps text that is no variable', () => {
    const q = newDS().applyTemplateVariables({ ...base, filters: { store: ['$unknown'] } }, {});
    expect(q.filters).toEqual({ store: ['$unknown'] });
  });

  it('expands the glob form', () => {
    expect(expandGlob('{a, b}')).toEqual(['a', 'b']);
    expect(expandGlob('a')).toEqual(['a']);
    expect(expandGlob('{a,$__all}')).toBeNull();
  });
});

describe('queries sent to the backend', () => {
  function respond(frames: DataFrame[] = []) {
    backendSrv.fetch.mockReturnValue(
      of({ data: { results: { A: { status: 200, frames: frames.map((f) => dataFrameToJSON(f)) } } }, status: 200 })
    );
  }
  const request = (targets: KpiQuery[]) =>
    ({ targets, range, scopedVars: {}, interval: '1m', intervalMs: 60000, maxDataPoints: 500, app: 'dashboard', requestId: 'r', timezone: 'utc', startTime: 0 }) as unknown as DataQueryRequest<KpiQuery>;

  it('posts the interpolated query JSON to /api/ds/query', async () => {
    respond();
    await lastValueFrom(newDS().query(request([{ refId: 'A', kpi: '$kpi', filters: { store: ['$store'], channel: ['$channel'] }, compare: '1w' }])));
    const opts = backendSrv.fetch.mock.calls[0][0];
    expect(opts.url).toContain('/api/ds/query');
    expect(opts.data.queries[0]).toMatchObject({ refId: 'A', kpi: 'aov', filters: { store: ['tmall-01', 'jd-02'] }, compare: '1w', version: 1 });
    expect(opts.data.queries[0].filters.channel).toBeUndefined();
  });

  it('applies the legend to the returned series', async () => {
    respond([
      createDataFrame({
        refId: 'A',
        meta: { custom: { kpi: 'gmv' } },
        fields: [
          { name: 'time', type: FieldType.time, values: [1] },
          { name: 'gmv', type: FieldType.number, values: [2], labels: { store: 'jd-02', compare: '1w', output: 'series' } },
        ],
      }),
    ]);
    const res = await lastValueFrom(newDS().query(request([{ refId: 'A', kpi: 'gmv', alias: '{{kpi}} {{store}} {{compare}}' }])));
    expect(res.data[0].fields[1].config.displayNameFromDS).toBe('gmv jd-02 1w');
  });

  it('leaves frames alone without a legend', () => {
    const f = createDataFrame({ refId: 'A', fields: [{ name: 'v', type: FieldType.number, values: [1] }] });
    expect(applyAlias(f, new Map())).toBe(f);
  });

  it('skips hidden queries and queries without KPI, keeps variable and annotation queries', () => {
    const ds = newDS();
    expect(ds.filterQuery({ refId: 'A', kpi: 'gmv' })).toBe(true);
    expect(ds.filterQuery({ refId: 'A', kpi: 'gmv', hide: true })).toBe(false);
    expect(ds.filterQuery({ refId: 'A', kpi: '' })).toBe(false);
    expect(ds.filterQuery({ refId: 'A', kpi: '', funnel: true })).toBe(true);
    expect(ds.filterQuery({ refId: 'A', kpi: '', queryType: 'dimensions', dimension: 'store' })).toBe(true);
    expect(ds.filterQuery({ refId: 'A', kpi: '', queryType: 'campaigns' })).toBe(true);
    expect(ds.filterQuery({ refId: 'A', kpi: '', queryType: 'calendar' })).toBe(true);
    expect(ds.filterQuery({ refId: 'A', kpi: '', queryType: 'freshness' })).toBe(true);
    expect(ds.filterQuery({ refId: 'A', kpi: '', queryType: 'insights' })).toBe(true);
    // anomalies need a KPI: the backend would refuse the query
    expect(ds.filterQuery({ refId: 'A', kpi: '', queryType: 'anomalies' })).toBe(false);
    expect(ds.filterQuery({ refId: 'A', kpi: 'gmv', queryType: 'anomalies' })).toBe(true);
  });

  it('posts freshness and calendar queries with their filters and no KPI series fields', async () => {
    respond();
    await lastValueFrom(
      newDS().query(
        request([
          { refId: 'A', kpi: '', queryType: 'freshness', filters: { store: ['$store'] } },
          { refId: 'B', kpi: '', queryType: 'calendar', filters: { campaign: ['d11'] } },
        ])
      )
    );
    const [a, b] = backendSrv.fetch.mock.calls[0][0].data.queries;
    expect(a).toMatchObject({ refId: 'A', queryType: 'freshness', filters: { store: ['tmall-01', 'jd-02'] }, version: 1 });
    expect(b).toMatchObject({ refId: 'B', queryType: 'calendar', filters: { campaign: ['d11'] } });
    expect(a.compare).toBeUndefined();
  });

  it('lists dimension values for variables through the dimensions query type', async () => {
    respond();
    const ds = newDS();
    const req = { ...request([]), targets: [{ refId: 'variable', dimension: 'store', filters: { channel: ['$channel'], category: ['shoes'] } }] };
    await lastValueFrom((ds.variables as any).query(req as unknown as DataQueryRequest<KpiVariableQuery>));
    const q = backendSrv.fetch.mock.calls[0][0].data.queries[0];
    expect(q).toMatchObject({ queryType: 'dimensions', dimension: 'store', filters: { category: ['shoes'] } });
    expect(q.filters.channel).toBeUndefined();
  });

  it('sends annotation queries as the campaigns query type by default', () => {
    expect(newDS().annotations?.getDefaultQuery?.()).toMatchObject({ queryType: 'campaigns' });
  });

  it('defaults a new query to GMV compared with last week', () => {
    expect(newDS().getDefaultQuery('dashboard' as any)).toEqual(DEFAULT_QUERY);
    expect(DEFAULT_QUERY).toMatchObject({ kpi: 'gmv', compare: '1w' });
  });
});

describe('resources', () => {
  it('loads the KPI catalog once from /kpis', async () => {
    backendSrv.fetch.mockReturnValue(resource({ kpis: KPIS }));
    const ds = newDS();
    expect((await ds.getKpis()).map((k) => k.id)).toEqual(KPIS.map((k) => k.id));
    await ds.getKpis();
    expect(backendSrv.fetch).toHaveBeenCalledTimes(1);
    expect(backendSrv.fetch.mock.calls[0][0].url).toBe('/api/datasources/uid/sp/resources/kpis');
  });

  it('asks /dimensions with the range and the other dimensions as interpolated filters', async () => {
    backendSrv.fetch.mockReturnValue(resource({ dimension: 'channel', values: ['app'] }));
    const vals = await newDS().getDimensionValues('channel', { store: ['$store'], channel: ['web'] }, range);
    expect(vals).toEqual(['app']);
    const { url, params } = backendSrv.fetch.mock.calls[0][0];
    expect(url).toBe('/api/datasources/uid/sp/resources/dimensions');
    expect(params).toEqual({ dim: 'channel', from: '2025-06-18T00:00:00.000Z', to: '2025-06-19T00:00:00.000Z', store: ['tmall-01', 'jd-02'] });
  });
});
