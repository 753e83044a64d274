// A standards-complete OpenID Connect provider for the single sign-on tests: panva's
// `oidc-provider` (OpenID Certified), with its development sign-in and consent pages. Any login
// name (any password) signs in as the account of that name: the login is the subject, and
// every account is "Nguyễn Văn An" with a verified e-mail address derived from the login.
//
// Use from a test: `const op = await startProvider({ port, redirectUri })`, then `op.issuer`
// and `await op.stop()`. By hand:
//   node oidc-provider.mjs --port 4000 --redirect http://127.0.0.1:8080/auth/oidc/callback
import { generateKeyPairSync, randomUUID } from "node:crypto";
import Provider from "oidc-provider";

export const CLIENT_ID = "dothi";
export const CLIENT_SECRET = "dothi-e2e-client-secret-0123456789";

/** The claims of an account: the login name is the subject and decides the e-mail address. */
export function claimsFor(login) {
  const local = String(login).toLowerCase().replace(/[^a-z0-9.]+/g, ".");
  return {
    sub: String(login),
    name: "Nguyễn Văn An",
    preferred_username: local,
    email: `${local}@hue-s.example.vn`,
    email_verified: true,
  };
}

/** A fresh RS256 signing key with its own key id (each start of the provider has another). */
function signingKey() {
  const { privateKey } = generateKeyPairSync("rsa", { modulusLength: 2048 });
  return { ...privateKey.export({ format: "jwk" }), kid: randomUUID(), use: "sig", alg: "RS256" };
}

/** Starts the provider on 127.0.0.1:port with one confidential client for dothi. */
export async function startProvider({ port, redirectUri }) {
  const issuer = `http://127.0.0.1:${port}`;
  const key = signingKey();
  const provider = new Provider(issuer, {
    jwks: { keys: [key] },
    ttl: { AccessToken: 600, AuthorizationCode: 60, IdToken: 600, Interaction: 600, Session: 3600, Grant: 3600 },
    clients: [
      {
        client_id: CLIENT_ID,
        client_secret: CLIENT_SECRET,
        redirect_uris: [redirectUri],
        grant_types: ["authorization_code"],
        response_types: ["code"],
        token_endpoint_auth_method: "client_secret_basic",
      },
    ],
    // Every client must use PKCE (dothi always does).
    pkce: { required: () => true },
    claims: {
      openid: ["sub"],
      profile: ["name", "preferred_username"],
      email: ["email", "email_verified"],
    },
    async findAccount(_ctx, id) {
      return {
        accountId: id,
        async claims() {
          return claimsFor(id);
        },
      };
    },
    // The development interactions (sign-in and consent forms); the login name becomes the
    // account id.
    features: { devInteractions: { enabled: true } },
    cookies: { keys: ["dothi-e2e-cookie-key-0123456789abcdef"] },
  });
  const server = provider.listen(port, "127.0.0.1");
  await new Promise((ok, fail) => {
    server.once("listening", ok);
    server.once("error", fail);
  });
  return {
    issuer,
    provider,
    kid: key.kid,
    stop: async () => {
      server.closeAllConnections?.();
      await new Promise((ok) => server.close(() => ok()));
    },
  };
}

if (process.argv[1] && import.meta.url === new URL(`file://${process.argv[1]}`).href) {
  const arg = (name, fallback) => {
    const i = process.argv.indexOf(`--${name}`);
    return i > 0 ? process.argv[i + 1] : fallback;
  };
  const op = await startProvider({
    port: Number(arg("port", "4000")),
    redirectUri: arg("redirect", "http://127.0.0.1:8080/auth/oidc/callback"),
  });
  console.log(`OpenID Connect provider at ${op.issuer} (client ${CLIENT_ID} / ${CLIENT_SECRET})`);
}
