import { DataSourceJsonData } from '@grafana/data';
import { DataQuery } from '@grafana/schema';

/** Current version of the query model (docs/query.md). */
export const QUERY_VERSION = 1;

/** Query types of the backend (the DataQuery's queryType). */
export enum QueryType {
  KPI = 'kpi',
  Dimensions = 'dimensions',
  /** Annotations: campaigns from the calendar. Named by docs/query.md as planned; the backend does not serve it yet. */
  Campaigns = 'campaigns',
  /** Annotations: detected anomalies. Planned like Campaigns. */
  Anomalies = 'anomalies',
}

/** Dimensions a query can filter and group by (datasource/pkg/engine.Dimensions). */
export const DIMENSIONS = ['store', 'channel', 'category', 'campaign', 'creative', 'reason', 'competitor'] as const;
export type Dimension = (typeof DIMENSIONS)[number];

export type Compare = '' | 'previous_period' | '1d' | '1w' | '4w' | '1y';
export type CompareOutput = 'series' | 'delta' | 'change';
export type Cumulative = 'running' | 'mtd' | 'ytd';

export const INTERVALS = ['auto', '1m', '5m', '10m', '15m', '30m', '1h', '2h', '3h', '6h', '12h', 'day', 'week', 'month'];
export const CALENDAR_INTERVALS = ['day', 'week', 'month'];

/** The JSON of a query, field for field as datasource/pkg/models.Query reads it. */
export interface KpiQuery extends DataQuery {
  version?: number;
  kpi: string;
  filters?: Record<string, string[]>;
  groupBy?: string[];
  interval?: string;
  compare?: Compare;
  compareOutputs?: CompareOutput[];
  /** queryType dimensions: the dimension to list. */
  dimension?: string;

  // Designed in docs/query.md, refused by the backend as "not implemented yet" for now.
  cumulative?: Cumulative;
  target?: boolean;
  anomaly?: { sensitivity: number };
  forecast?: { horizon: 'day' | 'month' };
  topN?: { n: number; by: string };
  contribution?: { dimension: string };
  funnel?: boolean;

  /**
   * Legend: a display name for the series; {{store}}, {{channel}}, … {{kpi}}, {{compare}}, {{output}} are
   * replaced by the series' labels. Applied by the frontend (the backend ignores the field).
   */
  alias?: string;
}

/** A new query: GMV, compared with the same time last week. */
export const DEFAULT_QUERY: Partial<KpiQuery> = {
  version: QUERY_VERSION,
  queryType: QueryType.KPI,
  kpi: 'gmv',
  interval: 'auto',
  compare: '1w',
  compareOutputs: ['series'],
};

/** The variable query: values of one dimension, optionally filtered by others. */
export interface KpiVariableQuery extends DataQuery {
  dimension: string;
  filters?: Record<string, string[]>;
}

/** jsonData (datasource/pkg/models.Settings). The InfluxDB URL is the datasource's own URL field. */
export interface KpiDataSourceOptions extends DataSourceJsonData {
  url?: string;
  version?: '1.8' | '2.x';
  org?: string;
  bucket?: string;
  timeZone?: string;
  currency?: string;
  seriesLimit?: number;
}

/** secureJsonData. */
export interface KpiSecureJsonData {
  token?: string;
}

/** One entry of the backend's /kpis resource. */
export interface KpiInfo {
  id: string;
  name: string;
  description: string;
  area: string;
  unit: 'currency' | 'percent' | 'count' | 'seconds' | 'ratio';
  direction: 'higher' | 'lower';
  kind: 'sum' | 'ratio' | 'distinct' | 'cumulative' | 'stickiness' | 'transform';
  formula: string;
  dimensions: string[] | null;
  grafanaUnit: string;
  note?: string;
}

export const SETTINGS_DEFAULTS = {
  version: '2.x',
  bucket: 'storepulse/autogen',
  timeZone: 'Asia/Shanghai',
  currency: 'CNY',
  seriesLimit: 500,
};
