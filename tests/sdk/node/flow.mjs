// Drives a running calsync with the npm `cronofy` SDK, as an integrator would, to prove wire
// compatibility.
//
// Usage: node flow.mjs BASE_URL CLIENT_ID CLIENT_SECRET
//
// Each step is recorded as passed or failed (with the error, including the response body of an
// HTTP failure) so one broken endpoint does not hide the rest. The last stdout line is a JSON
// summary {"steps": {name: "ok" | "failed: ..."}, "values": {...}}; the exit status is 1 when a
// step failed. Dates come from the real clock, so the server must run on (or follow) real time.
// The 403 case is not exercised: application calendars are always granted read_write, so no
// token with fewer scopes can be had through this path (the in-process API tests cover 403).
import Cronofy from 'cronofy';

const BULK_EVENTS = 230;
const HOUR = 3600 * 1000;
const DAY = 24 * HOUR;

const [baseUrl, clientId, clientSecret] = process.argv.slice(2);
const steps = {};
const values = {};
const state = {};

/** A client pointed at calsync (cronofy-api.md §2). */
function client (config) {
  const c = new Cronofy(config);
  c.urls.api = baseUrl;
  return c;
}

/** Runs a step, recording its outcome; skipped (and reported so) when a step it needs failed. */
async function step (name, fn, needs = ['application_calendar', 'list_calendars']) {
  const missing = needs.filter((n) => steps[n] !== 'ok');
  if (missing.length) {
    steps[name] = `skipped: needs ${missing.join(', ')}`;
    return;
  }
  try {
    await fn();
    steps[name] = 'ok';
  } catch (e) {
    const where = e.error && e.error.url ? ` ${e.error.url}` : '';
    const status = e.statusCode ? `HTTP ${e.statusCode}${where}: ` : '';
    steps[name] = `failed: ${status}${String(e.message).slice(0, 500)}`;
    console.error(name, e);
  }
}

/** The HTTP status (and body) of a call expected to fail. */
async function httpStatus (promise) {
  try {
    await promise;
    return [200, null];
  } catch (e) {
    if (!e.statusCode) throw e;
    return [e.statusCode, e.error ? e.error.entity : null];
  }
}

const utc = (ms) => new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z');
const date = (ms) => new Date(ms).toISOString().slice(0, 10);

/** Every event (or free/busy period) of a query, following `next_page`. */
async function readAll (api, method, key, options) {
  let page = await api[method](options);
  const items = [...page[key]];
  const total = page.pages.total;
  while (page.pages.next_page) {
    page = await api[method]({ next_page: page.pages.next_page });
    items.push(...page[key]);
  }
  return { items, total };
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

async function main () {
  const api = client({ client_id: clientId, client_secret: clientSecret });
  const todayMs = Date.parse(new Date().toISOString().slice(0, 10));
  const start = todayMs + DAY + 9 * HOUR;
  // Unlike pycronofy, the npm SDK sends no include_managed, and Cronofy's default leaves the
  // application's own events out.
  const window = { tzid: 'Etc/UTC', from: date(todayMs), to: date(todayMs + 30 * DAY), include_managed: true };
  const calendarId = () => state.calendarId;

  await step('application_calendar', async () => {
    const auth = await api.applicationCalendar({ application_calendar_id: 'sdk-node' });
    state.accessToken = auth.access_token;
    values.application_calendar_id = auth.application_calendar_id;
    values.sub_is_application_calendar = String(auth.sub).startsWith('apc_');
  }, []);

  await step('identity', async () => {
    values.account_has_id = Boolean((await api.accountInformation()).account.account_id);
    values.userinfo_has_sub = Boolean((await api.userInfo()).sub);
    values.profiles = (await api.profileInformation()).profiles.length;
  }, ['application_calendar']);

  await step('list_calendars', async () => {
    const { calendars } = await api.listCalendars();
    values.calendars = calendars.length;
    state.calendarId = calendars[0].calendar_id;
  }, ['application_calendar']);

  await step('upsert_timed_all_day_and_tzid_events', async () => {
    await api.createEvent({
      calendar_id: calendarId(), event_id: 'sdk-timed', summary: 'Timed (UTC)', start: utc(start), end: utc(start + HOUR)
    });
    await api.createEvent({
      calendar_id: calendarId(), event_id: 'sdk-all-day', summary: 'All day', start: date(todayMs + 2 * DAY), end: date(todayMs + 3 * DAY)
    });
    await api.createEvent({
      calendar_id: calendarId(),
      event_id: 'sdk-tzid',
      summary: 'With a zone',
      start: { time: utc(start + HOUR), tzid: 'Europe/Paris' },
      end: { time: utc(start + 2 * HOUR), tzid: 'Europe/Paris' }
    });
  });

  await step('upsert_bulk_events', async () => {
    for (let i = 0; i < BULK_EVENTS; i++) {
      const at = start + (2 + i) * HOUR;
      await api.createEvent({
        calendar_id: calendarId(), event_id: `sdk-bulk-${i}`, summary: `Bulk ${i}`, description: 'bulk', start: utc(at), end: utc(at + HOUR / 2)
      });
    }
  });

  await step('read_events_paginated', async () => {
    const { items, total } = await readAll(api, 'readEvents', 'events', window);
    values.events_pages = total;
    values.events_read = items.length;
    const byId = Object.fromEntries(items.map((e) => [e.event_id, e]));
    values.all_day_start = byId['sdk-all-day'].start === date(todayMs + 2 * DAY);
    values.tzid_event_start = byId['sdk-tzid'].start === utc(start + HOUR);
  });

  await step('free_busy_paginated', async () => {
    const statuses = {};
    for (const period of (await readAll(api, 'freeBusy', 'free_busy', window)).items) {
      statuses[period.free_busy_status] = (statuses[period.free_busy_status] || 0) + 1;
    }
    values.free_busy_statuses = statuses;
  });

  await step('delete_event_then_read_it_as_deleted', async () => {
    // Whole seconds separate the earlier writes from the delete, as last_modified has second
    // precision.
    await sleep(1200);
    const beforeDelete = utc(Math.floor(Date.now() / 1000) * 1000);
    await sleep(200);
    await api.deleteEvent({ calendar_id: calendarId(), event_id: 'sdk-bulk-0' });
    const changed = await readAll(api, 'readEvents', 'events', { ...window, include_deleted: true, last_modified: beforeDelete });
    values.changed_since_delete = changed.items.map((e) => [e.event_id, e.deleted]);
    values.events_after_delete = (await readAll(api, 'readEvents', 'events', window)).items.length;
  });

  await step('batch_upsert_and_delete', async () => {
    const at = start + 5 * DAY;
    const relativeUrl = `/v1/calendars/${calendarId()}/events`;
    const result = await api.batch({
      batch: [
        { method: 'POST', relative_url: relativeUrl, data: { event_id: 'sdk-batch', summary: 'From a batch', start: utc(at), end: utc(at + HOUR) } },
        { method: 'DELETE', relative_url: relativeUrl, data: { event_id: 'sdk-bulk-1' } }
      ]
    });
    values.batch_statuses = result.batch.map((entry) => entry.status);
    values.events_after_batch = (await readAll(api, 'readEvents', 'events', window)).items.length;
  });

  await step('error_422_missing_summary', async () => {
    values.missing_summary = await httpStatus(api.createEvent({
      calendar_id: calendarId(), event_id: 'sdk-invalid', start: utc(start), end: utc(start + HOUR)
    }));
  });

  await step('error_401_bogus_token', async () => {
    const bogus = client({ access_token: 'bogus-token-for-the-sdk-test' });
    values.bogus_token_status = (await httpStatus(bogus.listCalendars()))[0];
  }, []);

  await step('error_404_unknown_calendar', async () => {
    values.unknown_calendar_status = (await httpStatus(api.createEvent({
      calendar_id: 'cal_nonsense', event_id: 'sdk-nowhere', summary: 'Nowhere', start: utc(start), end: utc(start + HOUR)
    })))[0];
  });

  await step('revoke_then_401', async () => {
    await api.revokeAuthorization({ token: state.accessToken });
    const revoked = client({ access_token: state.accessToken });
    values.status_after_revoke = (await httpStatus(revoked.listCalendars()))[0];
  }, ['application_calendar']);

  const sorted = (o) => Object.fromEntries(Object.keys(o).sort().map((k) => [k, o[k]]));
  console.log(JSON.stringify({ steps: sorted(steps), values: sorted(values) }));
  return Object.values(steps).every((outcome) => outcome === 'ok') ? 0 : 1;
}

main().then((code) => { process.exitCode = code; }, (e) => { console.error(e); process.exitCode = 2; });
