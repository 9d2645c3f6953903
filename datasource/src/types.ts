import { DataSourceJsonData } from '@grafana/data';
import { DataQuery } from '@grafana/schema';

/** Current version of the query model (docs/query.md). */
export const QUERY_VERSION = 1;

/** Query types of the backend (the DataQuery's queryType). */
export enum QueryType {
  KPI = 'kpi',
  /** Values of one dimension, for template variables. */
  Dimensions = 'dimensions',
  /** Annotations: campaign phases from the calendar (sp_campaign) as regions. */
  Campaigns = 'campaigns',
  /** The campaign calendar as a wide frame for the state timeline panel (Gantt-like). */
  Calendar = 'calendar',
  /** Annotations: runs of flagged anomalies of a KPI (the anomaly transform's detection). */
  Anomalies = 'anomalies',
  /** Per store, the age in seconds of its newest data (sp_ingest): alert on a store that stopped sending. */
  Freshness = 'freshness',
  /** The morning briefing's "what changed, why, what to do" for the range's last ended local day: a table (docs/briefing.md). */
  Insights = 'insights',
}

/** Dimensions a query can filter and group by (datasource/pkg/engine.Dimensions). */
export const DIMENSIONS = ['store', 'channel', 'category', 'campaign', 'creative', 'reason', 'competitor'] as const;
export type Dimension = (typeof DIMENSIONS)[number];

/** `campaign`: the same campaign last year (the campaign of the range matched to last year's of its kind). */
export type Compare = '' | 'previous_period' | '1d' | '1w' | '4w' | '1y' | 'campaign';
export type CompareOutput = 'series' | 'delta' | 'change';
export type Cumulative = 'running' | 'mtd' | 'ytd';

export const INTERVALS = ['auto', '1m', '5m', '10m', '15m', '30m', '1h', '2h', '3h', '6h', '12h', 'day', 'week', 'month', 'quarter', 'year', 'range'];
/** Buckets of whole local days in the store time zone. */
export const CALENDAR_INTERVALS = ['day', 'week', 'month', 'quarter', 'year'];
/** One bucket for the whole time range: the one number a stat panel shows (distinct counts merged over the range). */
export const RANGE_INTERVAL = 'range';
/** How the interval picker names the intervals that are not their own label. */
export const INTERVAL_LABELS: Record<string, string> = { range: 'whole range (one value)' };
/** The intervals a target can be measured in (the periods targets are stored for). */
export const TARGET_INTERVALS = ['day', 'week', 'month'];

/** Anomaly band width: a named sensitivity (k = 4, 3, 2 spreads) or k itself (0 < k ≤ 100). */
export type AnomalySensitivity = 'low' | 'medium' | 'high' | number;

/** The anomaly transform's settings (datasource/pkg/models.Anomaly); `{}` takes the defaults. */
export interface AnomalySettings {
  /** Default medium (k = 3). */
  sensitivity?: AnomalySensitivity;
  /** Weeks of history, 4..8, default 6. */
  weeks?: number;
  /** Markets whose public holidays are planned days (["cn"]); unset: the datasource's holidayMarkets; []: none. */
  holidays?: string[];
  /**
   * Only the 0/1 anomaly flag per series (1 flagged, 0 not, null without a score) instead of the KPI, expected
   * value, band, score and flag: for alert rules (reduce with max, fire on >= 1). KPI series only.
   */
  flagOnly?: boolean;
}

export const ANOMALY_MIN_WEEKS = 4;
export const ANOMALY_MAX_WEEKS = 8;
export const ANOMALY_DEFAULT_WEEKS = 6;
/** Days before a campaign that form its uplift baseline when baselineDays is not set. */
export const UPLIFT_DEFAULT_BASELINE_DAYS = 28;
export const UPLIFT_MAX_BASELINE_DAYS = 366;
/** The life-cycle transform reads the trend of the last weeks: the range must span at least this many weeks. */
export const LIFECYCLE_MIN_WEEKS = 8;

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

  // Transforms (docs/query.md): a query uses at most one of them.
  cumulative?: Cumulative;
  target?: boolean;
  topN?: { n: number; by: string };
  contribution?: { dimension: string };
  funnel?: boolean;
  anomaly?: AnomalySettings;
  /** The cumulative actual, the projected path to the end of the day or month, its 80 % band and the target. */
  forecast?: { horizon: 'day' | 'month' };
  /** Life-cycle stage per value of the groupBy dimension (default category): one table. */
  lifecycle?: boolean;
  /** Per campaign overlapping the range: the KPI during it against the baselineDays before (default 28). */
  uplift?: { baselineDays?: number };

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
  version?: '1.8' | '2.x' | '3.x';
  /** influxql (the default) or flux; InfluxDB 3 has no Flux. */
  queryLanguage?: 'influxql' | 'flux';
  org?: string;
  bucket?: string;
  timeZone?: string;
  currency?: string;
  seriesLimit?: number;
  /** Go duration; 0s turns the read cache off. */
  cacheTTL?: string;
  requestMemoryMB?: number;
  datasourceMemoryMB?: number;
}

/** secureJsonData. */
export interface KpiSecureJsonData {
  token?: string;
}

/** One entry of the backend's /kpis resource. */
/** A KPI's numerator or denominator in /kpis: summed fields, or the distinct count of a sketch kind. */
export interface KpiOperand {
  terms?: Array<{ measurement: string; field: string; sign: number }>;
  distinct?: string;
}

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
  numerator?: KpiOperand;
  denominator?: KpiOperand;
  complement?: boolean;
}

export const SETTINGS_DEFAULTS = {
  version: '2.x',
  bucket: 'storepulse/autogen',
  /** The default bucket on InfluxDB 3.x: a database name. */
  database3: 'storepulse',
  timeZone: 'Asia/Shanghai',
  currency: 'CNY',
  seriesLimit: 500,
  cacheTTL: '10s',
  requestMemoryMB: 256,
  datasourceMemoryMB: 1024,
};
