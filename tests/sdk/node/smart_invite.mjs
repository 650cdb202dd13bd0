// Drives calsync's Smart Invites with the npm `cronofy` SDK: createSmartInvite, getSmartInvite
// and cancelSmartInvite, each authenticated with the client secret.
//
// Usage: node smart_invite.mjs BASE_URL CLIENT_ID CLIENT_SECRET
//
// The last stdout line is a JSON summary {"steps": {name: "ok" | "failed: ..."}, "values": {...}};
// the exit status is 1 when a step failed.
import Cronofy from 'cronofy';

const [baseUrl, clientId, clientSecret] = process.argv.slice(2);
const steps = {};
const values = {};

async function step (name, fn) {
  try {
    await fn();
    steps[name] = 'ok';
  } catch (e) {
    const status = e.statusCode ? `HTTP ${e.statusCode}: ` : '';
    steps[name] = `failed: ${status}${String(e.message).slice(0, 500)}`;
    console.error(name, e);
  }
}

const line = (ics, name) => ics.split('\r\n').find((l) => l.startsWith(name));

const client = new Cronofy({ client_id: clientId, client_secret: clientSecret });
client.urls.api = baseUrl;
const recipient = { email: 'guest@example.com' };
const event = {
  summary: 'Board meeting',
  start: { time: '2026-10-15T09:30:00Z', tzid: 'Europe/London' },
  end: { time: '2026-10-15T10:00:00Z', tzid: 'Europe/London' }
};

await step('createSmartInvite', async () => {
  const invite = await client.createSmartInvite({
    client_secret: clientSecret,
    smart_invite_id: 'sdk-node-invite',
    recipient,
    event,
    organizer: { name: 'Board' }
  });
  values.recipient = invite.recipient;
  values.create_method = line(invite.attachments.icalendar, 'METHOD:');
});

await step('getSmartInvite', async () => {
  const invite = await client.getSmartInvite({
    client_secret: clientSecret,
    smart_invite_id: 'sdk-node-invite',
    recipient_email: 'guest@example.com'
  });
  values.summary = invite.event.summary;
  values.replies = invite.replies;
});

await step('cancelSmartInvite', async () => {
  const invite = await client.cancelSmartInvite({
    client_secret: clientSecret,
    smart_invite_id: 'sdk-node-invite',
    recipient
  });
  values.cancel_method = line(invite.attachments.icalendar, 'METHOD:');
});

console.log(JSON.stringify({ steps, values }));
process.exit(Object.values(steps).every((v) => v === 'ok') ? 0 : 1);
