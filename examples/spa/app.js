// A single-page app on its own origin: every call sends the session cookie (credentials:
// "include"), and every answer, errors included, is readable because the API lists this
// origin in CORS_ORIGINS. No build step, no library: fetch and the DOM.
"use strict";

const API = new URLSearchParams(location.search).get("api")
  || document.querySelector('meta[name="api-base"]').content;

// One call to the API; a failure is thrown with the API's error code and message.
async function api(method, path, body) {
  const response = await fetch(API + path, {
    method,
    credentials: "include",
    headers: body === undefined ? {} : {"Content-Type": "application/json"},
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const data = response.status === 204 ? null : await response.json();
  if (!response.ok) {
    const error = new Error(data.error.message);
    error.code = data.error.code;
    error.status = response.status;
    throw error;
  }
  return data;
}

const $ = (id) => document.getElementById(id);

function show(signedIn) {
  $("signed-in").hidden = !signedIn;
  $("signed-out").hidden = signedIn;
}

function list(element, items, text) {
  element.replaceChildren(...items.map((item) => {
    const li = document.createElement("li");
    li.textContent = text(item);
    return li;
  }));
}

async function refresh() {
  $("error").textContent = "";
  try {
    const {user, session} = await api("GET", "/auth/session");
    const [{trainings}, {sessions}] = await Promise.all([
      api("GET", "/trainings"), api("GET", "/auth/sessions"),
    ]);
    $("who").textContent = user.email;
    $("expires").textContent = new Date(session.expires_at).toLocaleString();
    $("expires").dateTime = session.expires_at;
    list($("trainings"), trainings, (t) => `${t.title} (${t.minutes} min)`);
    list($("sessions"), sessions,
      (s) => `${s.user_agent || "Unknown device"}, since ${s.created_at}${s.current ? " (this one)" : ""}`);
    $("status").textContent = "Signed in.";
    show(true);
  } catch (error) {
    if (error.status !== 401) throw error;
    // The API's own 401, body and all: CORS lets this origin read it.
    $("status").textContent = `Not signed in (${error.code}).`;
    show(false);
  }
}

$("credentials").addEventListener("submit", async (event) => {
  event.preventDefault();
  const path = event.submitter.value === "signup" ? "/auth/signup" : "/auth/login";
  try {
    await api("POST", path, {email: $("email").value, password: $("password").value});
    $("password").value = "";
    await refresh();
  } catch (error) {
    $("error").textContent = `${error.message} (${error.code || "network error"})`;
  }
});

$("logout").addEventListener("click", async () => {
  await api("POST", "/auth/logout");
  await refresh();
});

$("api").textContent = API;
refresh().catch((error) => {
  // A network error: the API is down, or it does not list this origin in CORS_ORIGINS.
  $("status").textContent = "";
  $("error").textContent = `Cannot reach the API at ${API} (${error.message}).`;
  show(false);
});
