import React from 'react';
import { fireEvent, render, screen } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { setTemplateSrv } from '@grafana/runtime';

import { VariableQueryEditor } from '../components/VariableQueryEditor';
import { AnnotationQueryEditor } from '../components/AnnotationQueryEditor';
import { DataSource } from '../datasource';
import { fakeTemplateSrv } from '../fakeTemplateSrv';
import { DIMENSION_VALUES, instanceSettings, KPIS, range } from '../testdata';
import { KpiQuery, KpiVariableQuery } from '../types';

const templateSrv = fakeTemplateSrv([{ name: 'channel', current: ['$__all'], options: DIMENSION_VALUES.channel }]);
setTemplateSrv(templateSrv);

function mockDatasource() {
  const ds = new DataSource(instanceSettings, templateSrv);
  const getResource = jest
    .spyOn(ds, 'getResource')
    .mockImplementation(async (path: string, params?: any) =>
      path === 'kpis' ? { kpis: KPIS } : { dimension: params.dim, values: DIMENSION_VALUES[params.dim] ?? [] }
    );
  return { ds, getResource };
}

const last = (fn: jest.Mock) => fn.mock.calls[fn.mock.calls.length - 1][0];

async function pick(input: HTMLElement, text: string) {
  await userEvent.click(input);
  await userEvent.click(await screen.findByText(text, { selector: '[role="option"] *, [role="option"]' }));
}

describe('VariableQueryEditor', () => {
  it('chooses the dimension to list', async () => {
    const { ds } = mockDatasource();
    const onChange = jest.fn();
    render(<VariableQueryEditor datasource={ds} query={{ refId: 'v', dimension: '' }} onChange={onChange} onRunQuery={jest.fn()} range={range} />);
    await pick(screen.getByLabelText('Dimension'), 'category');
    expect(last(onChange)).toEqual({ refId: 'v', dimension: 'category', filters: {} });
  });

  it('narrows by another dimension with values from the backend, filtered by the other selections', async () => {
    const { ds, getResource } = mockDatasource();
    const onChange = jest.fn();
    const query: KpiVariableQuery = { refId: 'v', dimension: 'category', filters: { channel: ['$channel'] } };
    render(<VariableQueryEditor datasource={ds} query={query} onChange={onChange} onRunQuery={jest.fn()} range={range} />);
    expect(screen.queryByLabelText('Filter category')).not.toBeInTheDocument();
    await pick(screen.getByLabelText('Filter store'), 'tmall-01');
    // $channel is All: no channel filter reaches the backend
    expect(getResource).toHaveBeenCalledWith('dimensions', { dim: 'store', from: '2025-06-18T00:00:00.000Z', to: '2025-06-19T00:00:00.000Z' });
    expect(last(onChange)).toEqual({ refId: 'v', dimension: 'category', filters: { channel: ['$channel'], store: ['tmall-01'] } });
  });
});

describe('AnnotationQueryEditor', () => {
  it('switches between campaigns and anomalies and filters by store', async () => {
    const { ds } = mockDatasource();
    const onChange = jest.fn();
    const query: KpiQuery = { refId: 'Anno', kpi: '', queryType: 'campaigns' };
    const { rerender } = render(<AnnotationQueryEditor datasource={ds} query={query} onChange={onChange} onRunQuery={jest.fn()} range={range} />);
    expect(screen.queryByLabelText('Annotation KPI')).not.toBeInTheDocument();
    await pick(screen.getByLabelText('Filter store'), 'jd-02');
    expect(last(onChange)).toMatchObject({ queryType: 'campaigns', filters: { store: ['jd-02'] } });
    await pick(screen.getByLabelText('Annotation type'), 'Detected anomalies');
    expect(last(onChange).queryType).toBe('anomalies');
    rerender(<AnnotationQueryEditor datasource={ds} query={{ ...query, queryType: 'anomalies' }} onChange={onChange} onRunQuery={jest.fn()} range={range} />);
    expect(screen.getByLabelText('Annotation KPI')).toBeInTheDocument();
  });

  it('filters campaigns by store and campaign, the dimensions the campaigns query type reads', async () => {
    const { ds } = mockDatasource();
    const onChange = jest.fn();
    render(<AnnotationQueryEditor datasource={ds} query={{ refId: 'Anno', kpi: '', queryType: 'campaigns' }} onChange={onChange} onRunQuery={jest.fn()} range={range} />);
    expect(screen.getByLabelText('Filter campaign')).toBeInTheDocument();
    expect(screen.queryByLabelText('Filter channel')).not.toBeInTheDocument();
    expect(screen.queryByLabelText('Anomaly sensitivity')).not.toBeInTheDocument();
  });

  it('explains and lets clear a filter campaigns do not take (the channel filter earlier versions offered)', async () => {
    const { ds } = mockDatasource();
    const onChange = jest.fn();
    const query: KpiQuery = { refId: 'Anno', kpi: '', queryType: 'campaigns', filters: { store: ['jd-02'], channel: ['app'] } };
    render(<AnnotationQueryEditor datasource={ds} query={query} onChange={onChange} onRunQuery={jest.fn()} range={range} />);
    expect(screen.getByTestId('annotation-problems')).toHaveTextContent('Campaigns can be filtered by store and campaign only; clear the channel filter');
    const channel = screen.getByLabelText('Filter channel');
    await userEvent.click(channel);
    await userEvent.keyboard('{Backspace}');
    expect(last(onChange).filters).toEqual({ store: ['jd-02'] });
  });

  it('picks the anomalies KPI from the catalog, groups by store and sets sensitivity and weeks', async () => {
    const { ds } = mockDatasource();
    const onChange = jest.fn();
    const query: KpiQuery = { refId: 'Anno', kpi: '', queryType: 'anomalies' };
    const { rerender } = render(<AnnotationQueryEditor datasource={ds} query={query} onChange={onChange} onRunQuery={jest.fn()} range={range} />);
    expect(screen.getByTestId('annotation-problems')).toHaveTextContent('Pick the KPI whose anomalies to show');
    await pick(screen.getByLabelText('Annotation KPI'), 'AOV');
    expect(last(onChange)).toMatchObject({ queryType: 'anomalies', kpi: 'aov' });
    // the catalog's transform entries are no anomaly KPIs
    await userEvent.click(screen.getByLabelText('Annotation KPI'));
    expect(screen.queryByText('Campaign uplift')).not.toBeInTheDocument();

    const withKpi = { ...query, kpi: 'aov' };
    rerender(<AnnotationQueryEditor datasource={ds} query={withKpi} onChange={onChange} onRunQuery={jest.fn()} range={range} />);
    expect(screen.queryByTestId('annotation-problems')).not.toBeInTheDocument();
    await pick(screen.getByLabelText('Annotation group by'), 'store');
    expect(last(onChange)).toMatchObject({ kpi: 'aov', groupBy: ['store'] });
    await userEvent.click(screen.getByRole('radio', { name: 'Low' }));
    expect(last(onChange).anomaly).toEqual({ sensitivity: 'low' });
    const weeks = screen.getByLabelText('Anomaly weeks');
    await userEvent.type(weeks, '4');
    fireEvent.blur(weeks);
    expect(last(onChange).anomaly).toEqual({ weeks: 4 });
  });

  it('explains anomaly settings the backend refuses', () => {
    const { ds } = mockDatasource();
    const query: KpiQuery = { refId: 'Anno', kpi: 'gmv', queryType: 'anomalies', anomaly: { weeks: 12 } };
    render(<AnnotationQueryEditor datasource={ds} query={query} onChange={jest.fn()} onRunQuery={jest.fn()} range={range} />);
    expect(screen.getByTestId('annotation-problems')).toHaveTextContent('Anomaly history must be 4 to 8 whole weeks');
  });

  it('drops the anomaly fields when switching to campaigns', async () => {
    const { ds } = mockDatasource();
    const onChange = jest.fn();
    const query: KpiQuery = { refId: 'Anno', kpi: 'gmv', queryType: 'anomalies', groupBy: ['store'], anomaly: { sensitivity: 'high' }, filters: { store: ['jd-02'], channel: ['app'] } };
    render(<AnnotationQueryEditor datasource={ds} query={query} onChange={onChange} onRunQuery={jest.fn()} range={range} />);
    await pick(screen.getByLabelText('Annotation type'), 'Campaigns');
    expect(last(onChange)).toEqual({ refId: 'Anno', kpi: '', queryType: 'campaigns', filters: { store: ['jd-02'] } });
  });
});
