import React from 'react';
import { version as domVersion } from 'react-dom';
import { render, screen } from '@testing-library/react';

declare const EXPECTED_REACT_MAJOR: number | undefined;

// make frontend-test runs this suite twice: React 18 with the @grafana/* packages of Grafana 12.4
// (jest.config.js) and React 19 with those of Grafana 13.2 (react19/jest.config.js). Each run must really
// use its React, and one React instance: the tests' renderer, the editors and @grafana/ui share it.
describe('React runtime of this test run', () => {
  const expected = typeof EXPECTED_REACT_MAJOR === 'number' ? EXPECTED_REACT_MAJOR : 18;

  it(`is React ${expected} for react and react-dom`, () => {
    expect(React.version.split('.')[0]).toBe(String(expected));
    expect(domVersion.split('.')[0]).toBe(String(expected));
  });

  it('renders a hook component through Testing Library with the same React instance', () => {
    function Counter() {
      const [n] = React.useState(41);
      return <span>{n + 1}</span>;
    }
    render(<Counter />);
    expect(screen.getByText('42')).toBeInTheDocument();
  });
});
