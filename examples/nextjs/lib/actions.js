"use server";

// The forms' server actions. Each ends as the seed's did: the session made and its cookie set,
// and only then redirect("/training"). A refusal comes back to the form with the service's
// own message, next to the field it is about.

import { redirect } from "next/navigation";

import { apiError, callApi } from "./api";
import { createAuthSession, destroySession, visitor } from "./auth";

const FIELD_OF = {
  invalid_email: "email",
  email_taken: "email",
  invalid_password: "password",
  weak_password: "password",
};

function formState(email, error) {
  let message = error.message;
  if (error.status === 429 && error.retryAfterSeconds !== undefined) {
    message += ` You can try again in ${waitText(error.retryAfterSeconds)}.`;
  }
  return { email, errors: { [FIELD_OF[error.code] ?? "form"]: message } };
}

function waitText(seconds) {
  if (seconds < 90) return `${seconds} second${seconds === 1 ? "" : "s"}`;
  const minutes = Math.ceil(seconds / 60);
  return `${minutes} minutes`;
}

async function signIn(path, formData, succeeded) {
  const email = String(formData.get("email") ?? "");
  const password = String(formData.get("password") ?? "");
  const who = await visitor();
  const answer = await callApi(path, { method: "POST", json: { email, password }, visitor: who });
  if (answer.status !== succeeded) return formState(email, apiError(answer));
  if (answer.body.two_factor_required) {
    // The service owes this session a second factor; this small example does not ask for one.
    const token = answer.body.session_token;
    await callApi("/auth/logout", { method: "POST", token, visitor: who });
    return formState(email, {
      message: "This account signs in with a second factor, which this example does not ask for.",
    });
  }
  await createAuthSession(answer.body.session_token);
  redirect("/training");
}

export async function signup(previousState, formData) {
  return signIn("/auth/signup", formData, 201);
}

export async function login(previousState, formData) {
  return signIn("/auth/login", formData, 200);
}

export async function logout() {
  await destroySession();
  redirect("/login");
}
