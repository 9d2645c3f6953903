import { DataSourceInstanceSettings, dateTime, TimeRange } from '@grafana/data';

import { KpiDataSourceOptions, KpiInfo } from './types';

/** A slice of the /kpis resource as the backend serves it. */
export const KPIS: KpiInfo[] = [
  {
    id: 'gmv',
    name: 'GMV',
    description: 'Value of the orders placed.',
    area: 'revenue',
    unit: 'currency',
    direction: 'higher',
    kind: 'sum',
    formula: 'sum(gmv)',
    dimensions: ['store', 'channel', 'category', 'campaign'],
    grafanaUnit: 'currency:CNY',
  },
  {
    id: 'aov',
    name: 'AOV',
    description: 'Average order value: GMV / orders.',
    area: 'revenue',
    unit: 'currency',
    direction: 'higher',
    kind: 'ratio',
    formula: 'sum(gmv) / sum(orders)',
    dimensions: ['store', 'channel', 'category', 'campaign'],
    grafanaUnit: 'currency:CNY',
  },
  {
    id: 'stickiness',
    name: 'Stickiness',
    description: 'Average daily active users divided by the active users of the whole bucket.',
    area: 'users',
    unit: 'percent',
    direction: 'higher',
    kind: 'stickiness',
    formula: 'mean of daily distinct(active) / distinct(active) over the bucket',
    dimensions: ['store', 'channel', 'category'],
    grafanaUnit: 'percentunit',
  },
  {
    id: 'ctr',
    name: 'CTR',
    description: 'Click-through rate: clicks / impressions.',
    area: 'marketing',
    unit: 'percent',
    direction: 'higher',
    kind: 'ratio',
    formula: 'sum(clicks) / sum(impressions)',
    dimensions: ['store', 'channel', 'campaign', 'creative'],
    grafanaUnit: 'percentunit',
  },
  {
    id: 'active_users',
    name: 'Active users',
    description: 'Distinct users with any activity.',
    area: 'users',
    unit: 'count',
    direction: 'higher',
    kind: 'distinct',
    formula: 'distinct(active)',
    dimensions: ['store', 'channel', 'category'],
    grafanaUnit: 'short',
    numerator: { distinct: 'active' },
  },
  {
    id: 'conversion_rate',
    name: 'Conversion rate',
    description: 'Distinct buyers / distinct visitors.',
    area: 'revenue',
    unit: 'percent',
    direction: 'higher',
    kind: 'ratio',
    formula: 'distinct(buyer) / distinct(visitor)',
    dimensions: ['store', 'channel'],
    grafanaUnit: 'percentunit',
    numerator: { distinct: 'buyer' },
    denominator: { distinct: 'visitor' },
  },
  {
    id: 'campaign_uplift',
    name: 'Campaign uplift',
    description: 'A KPI during a campaign against its baseline.',
    area: 'rhythm',
    unit: 'percent',
    direction: 'higher',
    kind: 'transform',
    formula: 'transform: the uplift transform applied to another KPI',
    dimensions: [],
    grafanaUnit: 'percentunit',
    note: 'the uplift transform applied to another KPI',
  },
  {
    id: 'lifecycle_stage',
    name: 'Life-cycle stage',
    description: 'Introduction, growth, maturity or decline of a category, from its sales trend.',
    area: 'products',
    unit: 'count',
    direction: 'higher',
    kind: 'transform',
    formula: 'transform: the life-cycle transform applied to GMV by category',
    dimensions: ['store', 'channel', 'category', 'campaign'],
    grafanaUnit: 'short',
    note: 'the life-cycle transform applied to GMV by category',
  },
];

export const DIMENSION_VALUES: Record<string, string[]> = {
  store: ['tmall-01', 'jd-02', 'shop-03'],
  channel: ['app', 'web', 'mini'],
  category: ['shoes', 'bags'],
};

export const instanceSettings = {
  id: 1,
  uid: 'sp',
  type: 'storepulse-kpi-datasource',
  name: 'StorePulse',
  access: 'proxy',
  readOnly: false,
  jsonData: {},
  meta: { id: 'storepulse-kpi-datasource', info: { logos: {} } },
} as unknown as DataSourceInstanceSettings<KpiDataSourceOptions>;

/** A quarter: long enough for the life-cycle transform (8 weeks). */
export const quarter: TimeRange = {
  from: dateTime('2025-03-20T00:00:00Z'),
  to: dateTime('2025-06-19T00:00:00Z'),
  raw: { from: 'now-90d', to: 'now' },
};

export const range: TimeRange = {
  from: dateTime('2025-06-18T00:00:00Z'),
  to: dateTime('2025-06-19T00:00:00Z'),
  raw: { from: 'now/d', to: 'now' },
};
