import { redactUrl } from '../src';

describe('redactUrl', () => {
  it('masks a password and keeps the rest of the URL', () => {
    expect(redactUrl('redis://app:s3cret@cache.internal:6379/2', 'Redis')).toBe('redis://app:***@cache.internal:6379/2');
    expect(redactUrl('postgres://app@db:5432/app', 'PostgreSQL')).toBe('postgres://app@db:5432/app');
  });

  it('never repeats a URL that does not parse, which may hold a password anywhere', () => {
    const said = redactUrl('redis//app:s3cret@cache', 'Redis');
    expect(said).toBe('a Redis URL that does not parse');
    expect(said).not.toContain('s3cret');
  });
});
