// The local OpenID Provider of `make dev` and the test suites: panva's oidc-provider (OpenID
// Certified, from npm), run by the machine's Node. Its development login form takes any email
// as the account; an email containing "+unverified" is reported unverified. As configured
// here it requires PKCE, puts `email` only in UserInfo (OIDC Core 5.4 allows it; the ID token
// carries `sub` alone) and adds RFC 9207's `iss` to every authorization response.
//
//   OIDC_PORT, OIDC_ISSUER, OIDC_CLIENT_ID, OIDC_CLIENT_SECRET, OIDC_REDIRECT_URIS (comma list)
import { randomBytes } from "node:crypto";
import Provider from "oidc-provider";

const env = (name) => {
  const value = process.env[name];
  if (!value) {
    console.error(`oidc-provider.mjs: ${name} is required`);
    process.exit(2);
  }
  return value;
};

const provider = new Provider(env("OIDC_ISSUER"), {
  clients: [
    {
      client_id: env("OIDC_CLIENT_ID"),
      client_secret: env("OIDC_CLIENT_SECRET"),
      redirect_uris: env("OIDC_REDIRECT_URIS").split(","),
      response_types: ["code"],
      grant_types: ["authorization_code"],
      token_endpoint_auth_method: "client_secret_basic",
    },
  ],
  pkce: { required: () => true },
  claims: { openid: ["sub"], email: ["email", "email_verified"], profile: ["name"] },
  conformIdTokenClaims: true,
  findAccount: async (ctx, id) => ({
    accountId: id,
    claims: async () => ({
      sub: id,
      email: id,
      email_verified: !id.includes("+unverified"),
      name: id.split("@")[0],
    }),
  }),
  features: { devInteractions: { enabled: true } },
  cookies: { keys: [randomBytes(32).toString("hex")] },
});
provider.proxy = false;
provider.listen(Number(env("OIDC_PORT")), "127.0.0.1", () => {
  console.log(`oidc-provider listening on ${env("OIDC_ISSUER")}`);
});
