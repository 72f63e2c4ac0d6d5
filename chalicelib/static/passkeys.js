// Passkeys on our pages: signing in with one (a button, and the browser's autofill where it
// offers passkeys), the second step after a password, and adding one in settings. It talks to
// the JSON API with the browser's WebAuthn JSON helpers (parse...OptionsFromJSON, toJSON),
// with a base64url fallback for browsers that lack them. Every page works without it.
"use strict";

(() => {
  const base = document.documentElement.dataset.base || "";

  const toBuffer = (text) => {
    const padded = text.replace(/-/g, "+").replace(/_/g, "/").padEnd(Math.ceil(text.length / 4) * 4, "=");
    return Uint8Array.from(atob(padded), (c) => c.charCodeAt(0)).buffer;
  };
  const toText = (buffer) =>
    btoa(String.fromCharCode(...new Uint8Array(buffer))).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");

  const creationOptions = (json) => {
    if (PublicKeyCredential.parseCreationOptionsFromJSON) {
      return PublicKeyCredential.parseCreationOptionsFromJSON(json);
    }
    return {
      ...json,
      challenge: toBuffer(json.challenge),
      user: { ...json.user, id: toBuffer(json.user.id) },
      excludeCredentials: (json.excludeCredentials || []).map((c) => ({ ...c, id: toBuffer(c.id) })),
    };
  };
  const requestOptions = (json) => {
    if (PublicKeyCredential.parseRequestOptionsFromJSON) {
      return PublicKeyCredential.parseRequestOptionsFromJSON(json);
    }
    return {
      ...json,
      challenge: toBuffer(json.challenge),
      allowCredentials: (json.allowCredentials || []).map((c) => ({ ...c, id: toBuffer(c.id) })),
    };
  };
  const credentialJSON = (credential) => {
    if (credential.toJSON) return credential.toJSON();
    const response = {};
    for (const field of ["clientDataJSON", "attestationObject", "authenticatorData", "signature", "userHandle"]) {
      if (credential.response[field]) response[field] = toText(credential.response[field]);
    }
    if (credential.response.getTransports) response.transports = credential.response.getTransports();
    return {
      id: credential.id,
      rawId: toText(credential.rawId),
      type: credential.type,
      response,
      clientExtensionResults: credential.getClientExtensionResults(),
      authenticatorAttachment: credential.authenticatorAttachment,
    };
  };

  const post = async (path, body) => {
    const response = await fetch(base + path, {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      credentials: "same-origin",
      body: JSON.stringify(body || {}),
    });
    const data = response.status === 204 ? {} : await response.json();
    if (!response.ok) throw new Error(data.error ? data.error.message : "Something went wrong.");
    return data;
  };

  const say = (id, message) => {
    const place = document.getElementById(id);
    if (place) {
      place.textContent = message;
      place.hidden = !message;
    }
  };

  // The page's pending WebAuthn request (autofill), aborted before another one starts.
  let pending = null;
  const abortPending = () => {
    if (pending) pending.abort();
    pending = null;
  };

  const signIn = async (mediation) => {
    abortPending();
    const controller = new AbortController();
    pending = controller;
    const options = await post("/auth/passkeys/login/options");
    const credential = await navigator.credentials.get({
      publicKey: requestOptions(options),
      mediation,
      signal: controller.signal,
    });
    await post("/auth/passkeys/login", { credential: credentialJSON(credential) });
    window.location.assign(base + "/training");
  };

  const ignoreAbort = (error) => error && error.name === "AbortError";

  const loginButton = document.getElementById("passkey-login");
  if (loginButton && window.PublicKeyCredential) {
    loginButton.hidden = false;
    loginButton.addEventListener("click", () => {
      say("passkey-error", "");
      signIn("optional").catch((error) => {
        if (!ignoreAbort(error)) say("passkey-error", `Passkey sign-in did not work: ${error.message}`);
      });
    });
    // The browser's autofill offers passkeys on the email field, where it can.
    if (PublicKeyCredential.isConditionalMediationAvailable) {
      PublicKeyCredential.isConditionalMediationAvailable().then((available) => {
        if (available) signIn("conditional").catch(() => {});
      });
    }
  }

  // One of the signed-in user's own passkeys, asked for by this session: the second step after
  // a password, or settings' "Confirm it is you" (either way it re-authenticates the session).
  const ownPasskey = (buttonId, errorId, next) => {
    const button = document.getElementById(buttonId);
    if (!button || !window.PublicKeyCredential) return;
    button.hidden = false;
    button.addEventListener("click", async () => {
      say(errorId, "");
      try {
        const options = await post("/auth/2fa/passkey/options");
        const credential = await navigator.credentials.get({ publicKey: requestOptions(options) });
        await post("/auth/2fa/passkey", { credential: credentialJSON(credential) });
        window.location.assign(base + next);
      } catch (error) {
        say(errorId, `That did not work: ${error.message}`);
      }
    });
  };
  ownPasskey("passkey-2fa", "passkey-error", "/training");
  ownPasskey("confirm-passkey", "confirm-passkey-error", "/settings?notice=reauthenticated");

  // A password reset's second factor: the assertion goes into the form, which then submits.
  const resetButton = document.getElementById("passkey-reset");
  if (resetButton && window.PublicKeyCredential) {
    resetButton.hidden = false;
    resetButton.addEventListener("click", async () => {
      say("passkey-error", "");
      const form = resetButton.closest("form");
      if (!form.reportValidity()) return;
      try {
        const options = await post("/auth/passkeys/login/options");
        const credential = await navigator.credentials.get({ publicKey: requestOptions(options) });
        document.getElementById("reset-credential").value = JSON.stringify(credentialJSON(credential));
        form.submit();
      } catch (error) {
        say("passkey-error", `That did not work: ${error.message}`);
      }
    });
  }

  const addForm = document.getElementById("passkey-add");
  if (addForm && window.PublicKeyCredential) {
    addForm.hidden = false;
    addForm.addEventListener("submit", async (event) => {
      event.preventDefault();
      say("passkey-add-error", "");
      // No password here: the user confirmed it is them at the top of the page.
      const name = addForm.elements.name.value;
      try {
        const options = await post("/auth/passkeys/register/options");
        const credential = await navigator.credentials.create({ publicKey: creationOptions(options) });
        await post("/auth/passkeys/register", { credential: credentialJSON(credential), name });
        window.location.assign(base + "/settings?notice=passkey-added");
      } catch (error) {
        say("passkey-add-error", `The passkey was not added: ${error.message}`);
      }
    });
  }
})();
