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

export const range: TimeRange = {
  from: dateTime('2025-06-18T00:00:00Z'),
  to: dateTime('2025-06-19T00:00:00Z'),
  raw: { from: 'now/d', to: 'now' },
};
