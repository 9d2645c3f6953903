import React from 'react';
import { fireEvent, render, screen } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { DataSourceSettings } from '@grafana/data';

import { ConfigEditor } from '../components/ConfigEditor';
import { KpiDataSourceOptions, KpiSecureJsonData } from '../types';

type Settings = DataSourceSettings<KpiDataSourceOptions, KpiSecureJsonData>;

function options(over: Partial<Settings> = {}): Settings {
  return {
    id: 1,
    uid: 'sp',
    orgId: 1,
    name: 'StorePulse',
    type: 'storepulse-kpi-datasource',
    typeName: '',
    typeLogoUrl: '',
    access: 'proxy',
    url: 'http://influxdb:8086',
    user: '',
    database: '',
    basicAuth: false,
    basicAuthUser: '',
    isDefault: false,
    withCredentials: false,
    readOnly: false,
    jsonData: { version: '2.x', queryLanguage: 'flux', org: 'shop', bucket: 'storepulse', timeZone: 'Europe/Berlin', currency: 'EUR', seriesLimit: 200 },
    secureJsonFields: {},
    ...over,
  } as Settings;
}

function setup(over: Partial<Settings> = {}) {
  const onOptionsChange = jest.fn();
  const opts = options(over);
  const utils = render(<ConfigEditor options={opts} onOptionsChange={onOptionsChange} />);
  return { ...utils, onOptionsChange, opts };
}

const last = (fn: jest.Mock): Settings => fn.mock.calls[fn.mock.calls.length - 1][0];

describe('ConfigEditor', () => {
  it('shows the stored settings', () => {
    setup();
    expect(screen.getByLabelText('InfluxDB URL')).toHaveValue('http://influxdb:8086');
    expect(screen.getByLabelText('Organization')).toHaveValue('shop');
    expect(screen.getByLabelText('Bucket')).toHaveValue('storepulse');
    expect(screen.getByText('Europe/Berlin')).toBeInTheDocument();
    expect(screen.getByLabelText('Currency')).toHaveValue('EUR');
    expect(screen.getByLabelText('Series limit')).toHaveValue(200);
  });

  it('writes URL, bucket, currency and series limit to the right keys', () => {
    const { onOptionsChange } = setup();
    fireEvent.change(screen.getByLabelText('InfluxDB URL'), { target: { value: 'https://influx.example:8086 ' } });
    expect(last(onOptionsChange).url).toBe('https://influx.example:8086');
    fireEvent.change(screen.getByLabelText('Bucket'), { target: { value: 'storepulse/autogen' } });
    expect(last(onOptionsChange).jsonData.bucket).toBe('storepulse/autogen');
    fireEvent.change(screen.getByLabelText('Currency'), { target: { value: 'usd' } });
    expect(last(onOptionsChange).jsonData.currency).toBe('USD');
    fireEvent.change(screen.getByLabelText('Series limit'), { target: { value: '50' } });
    expect(last(onOptionsChange).jsonData.seriesLimit).toBe(50);
    fireEvent.change(screen.getByLabelText('Series limit'), { target: { value: '' } });
    expect(last(onOptionsChange).jsonData).not.toHaveProperty('seriesLimit');
  });

  it('switches to InfluxDB 1.8 (no organization, database/rp)', async () => {
    const { onOptionsChange, rerender, opts } = setup();
    await userEvent.click(screen.getByLabelText('InfluxDB 1.8'));
    expect(last(onOptionsChange).jsonData.version).toBe('1.8');
    rerender(<ConfigEditor options={{ ...opts, jsonData: { ...opts.jsonData, version: '1.8' } }} onOptionsChange={onOptionsChange} />);
    expect(screen.queryByLabelText('Organization')).not.toBeInTheDocument();
    expect(screen.getByText('Database/RP')).toBeInTheDocument();
    expect(screen.getByLabelText('Token')).toHaveAttribute('placeholder', 'user:password');
  });

  it('sets the token as secure data', () => {
    const { onOptionsChange } = setup();
    fireEvent.change(screen.getByLabelText('Token'), { target: { value: 's3cret' } });
    expect(last(onOptionsChange).secureJsonData).toEqual({ token: 's3cret' });
    expect(last(onOptionsChange).jsonData).not.toHaveProperty('token');
  });

  it('resets a configured token', async () => {
    const { onOptionsChange } = setup({ secureJsonFields: { token: true } });
    expect(screen.getByLabelText('Token')).toHaveValue('configured');
    await userEvent.click(screen.getByRole('button', { name: 'Reset' }));
    expect(last(onOptionsChange).secureJsonFields.token).toBe(false);
    expect(last(onOptionsChange).secureJsonData).toEqual({ token: '' });
  });

  it('asks for the organization only where Flux needs it', () => {
    setup({ jsonData: { version: '2.x', org: 'shop' } });
    expect(screen.queryByLabelText('Organization')).not.toBeInTheDocument();
    expect(screen.getByLabelText('InfluxQL')).toBeChecked();
  });

  it('switches to InfluxDB 3.x: InfluxQL only, the bucket is a database', async () => {
    const { onOptionsChange, rerender, opts } = setup();
    await userEvent.click(screen.getByLabelText('InfluxDB 3.x'));
    expect(last(onOptionsChange).jsonData.version).toBe('3.x');
    expect(last(onOptionsChange).jsonData).not.toHaveProperty('queryLanguage');
    rerender(<ConfigEditor options={{ ...opts, jsonData: { ...opts.jsonData, version: '3.x' } }} onOptionsChange={onOptionsChange} />);
    expect(screen.getByLabelText('InfluxQL')).toBeChecked();
    expect(screen.getByLabelText('Flux')).toBeDisabled();
    expect(screen.queryByLabelText('Organization')).not.toBeInTheDocument();
    expect(screen.getByText('Database')).toBeInTheDocument();
    expect(screen.getByLabelText('Bucket')).toHaveAttribute('placeholder', 'storepulse');
  });

  it('flags a 3.x database name with a /', () => {
    setup({ jsonData: { version: '3.x', bucket: 'storepulse/autogen' } });
    expect(screen.getByText('InfluxDB 3 names a database without /')).toBeInTheDocument();
  });

  it('writes the query language, memory limits and cache to the backend keys', async () => {
    const { onOptionsChange } = setup({ jsonData: { version: '2.x' } });
    await userEvent.click(screen.getByLabelText('Flux'));
    expect(last(onOptionsChange).jsonData.queryLanguage).toBe('flux');
    fireEvent.change(screen.getByLabelText('Memory per request (MB)'), { target: { value: '512' } });
    expect(last(onOptionsChange).jsonData.requestMemoryMB).toBe(512);
    fireEvent.change(screen.getByLabelText('Memory of this datasource (MB)'), { target: { value: '4096' } });
    expect(last(onOptionsChange).jsonData.datasourceMemoryMB).toBe(4096);
    fireEvent.change(screen.getByLabelText('Cache TTL'), { target: { value: ' 30s ' } });
    expect(last(onOptionsChange).jsonData.cacheTTL).toBe('30s');
    fireEvent.change(screen.getByLabelText('Memory per request (MB)'), { target: { value: '' } });
    expect(last(onOptionsChange).jsonData).not.toHaveProperty('requestMemoryMB');
  });

  it('flags limits the backend would refuse', () => {
    setup({ jsonData: { requestMemoryMB: 2048, cacheTTL: 'soon' } });
    expect(screen.getByText('A whole number of MB, at least the memory per request')).toBeInTheDocument();
    expect(screen.getByText('A duration such as 10s or 1m; 0s turns the cache off')).toBeInTheDocument();
  });

  it('flags an invalid URL and currency', () => {
    setup({ url: 'influxdb:8086', jsonData: { currency: 'EURO' } });
    expect(screen.getByText('An http(s) URL, e.g. http://influxdb:8086')).toBeInTheDocument();
    expect(screen.getByText('An ISO 4217 code such as CNY, USD, EUR')).toBeInTheDocument();
  });
});
