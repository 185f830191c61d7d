// Human-readable output of the auth admin CLI (the `--json` output is the views themselves).

import { fields, iso, table, text } from '@mxp/service-kit/cli';
import type { ApplicationView } from '../services/applications.js';
import type { SessionView, UserChange, UserView } from '../services/users.js';

/** Told with every generated password: only its hash is stored, so nobody can show it again. */
export function passwordWarning(username: string): string {
  return `Store this password now and give it to the user over a safe channel: it is shown only once and cannot be shown again (if it is lost, run \`users set-password ${username}\`).`;
}

/** Output of `apps create`. */
export function formatCreatedApplication(application: ApplicationView): string[] {
  return [
    'Application created.',
    ...fields([['application id', application.applicationId], ...applicationSettings(application)]),
  ];
}

/** Output of `apps list`: one row per application. */
export function formatApplicationTable(applications: readonly ApplicationView[]): string[] {
  if (applications.length === 0) return ['No applications yet (create one with `apps create --name NAME`).'];
  return table([
    ['ID', 'NAME', 'STATUS', 'ACCESS TTL', 'IDLE', 'ABSOLUTE', 'ROTATION', 'CREATED'],
    ...applications.map((application) => [
      application.applicationId,
      text(application.name),
      application.status,
      `${application.accessTokenTtlSeconds}s`,
      `${application.idleTimeoutSeconds}s`,
      `${application.absoluteTimeoutSeconds}s`,
      onOff(application.rotateRefreshTokens),
      iso(application.createdAt),
    ]),
  ]);
}

/** Output of `users create`; the password only when it was generated. */
export function formatCreatedUser(user: UserView, generatedPassword: string | undefined): string[] {
  return [
    'User created.',
    ...fields([
      ['user id', user.userId],
      ['username', user.username],
      ['email', user.email ?? '-'],
      ['status', user.status],
      ...(generatedPassword === undefined ? [] : [['password', generatedPassword] as const]),
    ]),
    ...(generatedPassword === undefined ? [] : [passwordWarning(user.username)]),
  ];
}

/** Output of `users disable` and `users enable`. */
export function formatUserStatus(user: UserView, sessionsRevoked?: number): string[] {
  return user.status === 'disabled'
    ? [`User ${user.username} is disabled: sign-in is refused, ${sessions(sessionsRevoked ?? 0)} revoked.`]
    : [`User ${user.username} is active: they can sign in again.`];
}

/** Output of `users set-password`; the password only when it was generated. */
export function formatPasswordSet(change: UserChange, generatedPassword: string | undefined): string[] {
  const { user, sessionsRevoked } = change;
  return [
    `Password of ${user.username} changed; ${sessions(sessionsRevoked)} revoked.`,
    ...(generatedPassword === undefined
      ? []
      : [...fields([['password', generatedPassword]]), passwordWarning(user.username)]),
  ];
}

/** Output of `sessions list`. */
export function formatSessionTable(user: UserView, list: readonly SessionView[]): string[] {
  if (list.length === 0) return [`No active or recent sessions for ${user.username}.`];
  return [
    `Sessions of ${user.username} (user id ${user.userId}), newest first:`,
    ...table([
      ['ID', 'APPLICATION', 'STATE', 'CREATED', 'LAST SEEN', 'IP', 'USER AGENT'],
      ...list.map((session) => [
        session.sessionId,
        text(session.applicationName),
        state(session),
        iso(session.createdAt),
        iso(session.lastSeenAt),
        session.ip ?? '-',
        session.userAgent === null ? '-' : text(truncate(session.userAgent, 40)),
      ]),
    ]),
  ];
}

/** Output of `sessions revoke`. */
export function formatSessionRevoked(session: SessionView, revoked: boolean): string[] {
  const which = `Session ${session.sessionId} of ${session.username} (${text(session.applicationName)})`;
  return revoked
    ? [`${which} revoked: its refresh tokens no longer work and its access tokens are refused.`]
    : [
        `${which} was already revoked at ${iso(session.revokedAt as Date)} (${session.revokedReason}); nothing changed.`,
      ];
}

function applicationSettings(application: ApplicationView): Array<readonly [string, string]> {
  return [
    ['name', text(application.name)],
    ['status', application.status],
    ['access token ttl', `${application.accessTokenTtlSeconds} s`],
    ['idle timeout', `${application.idleTimeoutSeconds} s`],
    ['absolute timeout', `${application.absoluteTimeoutSeconds} s`],
    ['refresh rotation', onOff(application.rotateRefreshTokens)],
    ['created', iso(application.createdAt)],
  ];
}

function state(session: SessionView): string {
  return session.state === 'revoked' ? `revoked (${text(session.revokedReason ?? '?')})` : session.state;
}

function sessions(count: number): string {
  return count === 1 ? '1 open session' : `${count} open sessions`;
}

function onOff(value: boolean): string {
  return value ? 'on' : 'off';
}

function truncate(value: string, max: number): string {
  const chars = [...value];
  return chars.length <= max ? value : `${chars.slice(0, max - 1).join('')}…`;
}
