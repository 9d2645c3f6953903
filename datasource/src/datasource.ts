import {
  CustomVariableSupport,
  DataFrame,
  DataQueryRequest,
  DataQueryResponse,
  DataSourceInstanceSettings,
  CoreApp,
  ScopedVars,
  TimeRange,
} from '@grafana/data';
import { DataSourceWithBackend, getTemplateSrv, TemplateSrv } from '@grafana/runtime';
import { map, Observable } from 'rxjs';

import { VariableQueryEditor } from './components/VariableQueryEditor';
import { AnnotationQueryEditor } from './components/AnnotationQueryEditor';
import {
  Compare,
  DEFAULT_QUERY,
  KpiDataSourceOptions,
  KpiInfo,
  KpiQuery,
  KpiVariableQuery,
  QUERY_VERSION,
  QueryType,
} from './types';

const ALL_VALUE = '$__all';

export class DataSource extends DataSourceWithBackend<KpiQuery, KpiDataSourceOptions> {
  private kpiCache?: Promise<KpiInfo[]>;

  constructor(
    instanceSettings: DataSourceInstanceSettings<KpiDataSourceOptions>,
    private readonly templateSrv: TemplateSrv = getTemplateSrv()
  ) {
    super(instanceSettings);
    this.variables = new KpiVariableSupport(this);
    this.annotations = {
      QueryEditor: AnnotationQueryEditor,
      getDefaultQuery: () => ({ queryType: QueryType.Campaigns, kpi: '' }),
    };
  }

  getDefaultQuery(_: CoreApp): Partial<KpiQuery> {
    return DEFAULT_QUERY;
  }

  filterQuery(query: KpiQuery): boolean {
    if (query.hide) {
      return false;
    }
    switch (query.queryType) {
      case QueryType.Dimensions:
        return !!query.dimension;
      case QueryType.Campaigns:
      case QueryType.Calendar:
      case QueryType.Freshness:
      case QueryType.Insights:
        return true;
      case QueryType.Anomalies:
        return !!query.kpi;
      default:
        return !!query.kpi || !!query.funnel;
    }
  }

  /** The KPI catalog (resource /kpis), fetched once per datasource instance. */
  getKpis(): Promise<KpiInfo[]> {
    if (!this.kpiCache) {
      this.kpiCache = this.getResource<{ kpis: KpiInfo[] }>('kpis').then(
        (r) => r.kpis ?? [],
        (err) => {
          this.kpiCache = undefined;
          throw err;
        }
      );
    }
    return this.kpiCache;
  }

  /** Values of a dimension (resource /dimensions), filtered by the other dimensions; variables interpolated. */
  async getDimensionValues(dim: string, filters: Record<string, string[]> = {}, range?: TimeRange): Promise<string[]> {
    const params: Record<string, string | string[]> = { dim };
    if (range) {
      params.from = range.from.toISOString();
      params.to = range.to.toISOString();
    }
    for (const [other, values] of Object.entries(this.interpolateFilters(filters, {}))) {
      if (other !== dim && values.length > 0) {
        params[other] = values;
      }
    }
    const r = await this.getResource<{ values: string[] }>('dimensions', params);
    return r.values ?? [];
  }

  /** Interpolates one value that may hold a (multi-value) variable into plain values; null means "All". */
  interpolateValues(value: string, scopedVars: ScopedVars): string[] | null {
    if (!this.templateSrv.containsTemplate(value)) {
      return [value];
    }
    if (this.isAllSelected(value, scopedVars)) {
      return null;
    }
    const replaced = this.templateSrv.replace(value, scopedVars, 'json');
    let parsed: unknown;
    try {
      parsed = JSON.parse(replaced);
    } catch {
      // not a single variable (e.g. "tmall-$n"): Grafana's default multi-value format, a glob "{a,b}"
      return expandGlob(this.templateSrv.replace(value, scopedVars));
    }
    const values = (Array.isArray(parsed) ? parsed : [parsed]).map(String);
    if (values.some((v) => v === ALL_VALUE || v === '')) {
      return null;
    }
    return values;
  }

  interpolateFilters(filters: Record<string, string[]>, scopedVars: ScopedVars): Record<string, string[]> {
    const out: Record<string, string[]> = {};
    for (const [dim, values] of Object.entries(filters ?? {})) {
      const expanded: string[] = [];
      let all = values.length === 0;
      for (const v of values) {
        const vals = this.interpolateValues(v, scopedVars);
        if (vals === null) {
          all = true;
          break;
        }
        for (const x of vals) {
          if (!expanded.includes(x)) {
            expanded.push(x);
          }
        }
      }
      if (!all && expanded.length > 0) {
        out[dim] = expanded;
      }
    }
    return out;
  }

  /**
   * Interpolates template variables the way Grafana does before the query reaches the backend: single values
   * replaced, multi-value variables expanded into the list of values, an "All" selection (without a custom all
   * value) turned into no filter on that dimension.
   */
  applyTemplateVariables(query: KpiQuery, scopedVars: ScopedVars): KpiQuery {
    const replace = (s: string | undefined) => (s ? this.templateSrv.replace(s, scopedVars) : s);
    const out: KpiQuery = { ...query, version: query.version ?? QUERY_VERSION };
    out.kpi = replace(query.kpi) ?? '';
    if (query.interval) {
      out.interval = replace(query.interval);
    }
    if (query.compare) {
      // the drill-down's $compare variable (1d, 1w, 4w, 1y, campaign, previous_period); "none" or empty turns it off
      const compare = replace(query.compare)?.trim();
      if (compare && compare !== 'none') {
        out.compare = compare as Compare;
      } else {
        delete out.compare;
        delete out.compareOutputs;
      }
    }
    if (query.filters) {
      out.filters = this.interpolateFilters(query.filters, scopedVars);
    }
    if (query.groupBy) {
      const groupBy: string[] = [];
      for (const g of query.groupBy) {
        for (const v of this.interpolateValues(g, scopedVars) ?? []) {
          if (v && !groupBy.includes(v)) {
            groupBy.push(v);
          }
        }
      }
      out.groupBy = groupBy;
    }
    if (query.dimension) {
      out.dimension = replace(query.dimension);
    }
    if (query.topN) {
      out.topN = { ...query.topN, by: replace(query.topN.by) ?? '' };
    }
    if (query.contribution) {
      out.contribution = { dimension: replace(query.contribution.dimension) ?? '' };
    }
    if (query.alias) {
      out.alias = replace(query.alias);
    }
    return out;
  }

  query(request: DataQueryRequest<KpiQuery>): Observable<DataQueryResponse> {
    const aliases = new Map<string, string>();
    for (const t of request.targets) {
      if (t.alias) {
        aliases.set(t.refId, this.templateSrv.replace(t.alias, request.scopedVars));
      }
    }
    return super.query(request).pipe(
      map((response) => (aliases.size ? { ...response, data: response.data.map((f) => applyAlias(f, aliases)) } : response))
    );
  }

  private isAllSelected(value: string, scopedVars: ScopedVars): boolean {
    const m = value.trim().match(/^(?:\$\{([\w.]+)(?::\w+)?\}|\$([\w.]+)|\[\[([\w.]+)(?::\w+)?\]\])$/);
    const name = m && (m[1] || m[2] || m[3]);
    if (!name || scopedVars?.[name]) {
      return false;
    }
    const variable = this.templateSrv.getVariables().find((v) => v.name === name) as
      | { current?: { value?: string | string[] }; allValue?: string | null }
      | undefined;
    if (!variable || variable.allValue) {
      return false; // a custom all value is sent as such
    }
    const current = variable.current?.value;
    return Array.isArray(current) ? current.includes(ALL_VALUE) : current === ALL_VALUE;
  }
}

/** Expands Grafana's glob form of a multi-value variable "{a,b}" into its values; null means "All". */
export function expandGlob(s: string): string[] | null {
  const t = s.trim();
  const parts = t.length >= 2 && t.startsWith('{') && t.endsWith('}') ? t.slice(1, -1).split(',') : [t];
  const out = parts.map((p) => p.trim());
  return out.some((p) => p === '' || p === ALL_VALUE) ? null : out;
}

/** Sets the legend of a frame's value fields from the query's alias; {{label}} takes the series' labels. */
export function applyAlias(frame: DataFrame, aliases: Map<string, string>): DataFrame {
  const alias = frame.refId ? aliases.get(frame.refId) : undefined;
  if (!alias) {
    return frame;
  }
  const kpi = (frame.meta?.custom as { kpi?: string } | undefined)?.kpi ?? '';
  return {
    ...frame,
    fields: frame.fields.map((field) => {
      if (field.type !== 'number') {
        return field;
      }
      const labels: Record<string, string> = { kpi, compare: '', output: '', ...(field.labels ?? {}) };
      const name = alias.replace(/\{\{\s*([\w.]+)\s*\}\}/g, (_, key: string) => labels[key] ?? '').trim();
      return { ...field, config: { ...field.config, displayNameFromDS: name } };
    }),
  };
}

/** Variables list the values of a dimension through the backend's `dimensions` query type. */
export class KpiVariableSupport extends CustomVariableSupport<DataSource, KpiVariableQuery, KpiQuery> {
  editor = VariableQueryEditor;

  constructor(private readonly datasource: DataSource) {
    super();
  }

  query(request: DataQueryRequest<KpiVariableQuery>): Observable<DataQueryResponse> {
    const targets: KpiQuery[] = request.targets.map((t) => ({
      refId: t.refId ?? 'variable',
      queryType: QueryType.Dimensions,
      kpi: '',
      version: QUERY_VERSION,
      dimension: t.dimension,
      filters: t.filters,
    }));
    return this.datasource.query({ ...request, targets } as DataQueryRequest<KpiQuery>);
  }
}
