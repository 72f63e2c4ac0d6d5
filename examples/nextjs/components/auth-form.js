"use client";

import Link from "next/link";
import { useActionState } from "react";

import { login, signup } from "../lib/actions";

const TEXT = {
  login: {
    heading: "Log in",
    button: "Log in",
    other: "/signup",
    otherText: "Create an account",
    autoComplete: "current-password",
  },
  signup: {
    heading: "Create an account",
    button: "Create account",
    other: "/login",
    otherText: "Log in with an existing account",
    autoComplete: "new-password",
  },
};

function FieldError({ id, message }) {
  return message ? (
    <p className="field-error" id={id}>
      {message}
    </p>
  ) : null;
}

export default function AuthForm({ mode }) {
  const text = TEXT[mode];
  const [state, action, pending] = useActionState(mode === "login" ? login : signup, {});
  const errors = state.errors ?? {};
  return (
    <form id="auth-form" action={action}>
      <h1>{text.heading}</h1>
      {errors.form ? (
        <p className="form-error" id="form-error" role="alert">
          {errors.form}
        </p>
      ) : null}
      <p>
        <label htmlFor="email">Email</label>
        <input
          type="email"
          name="email"
          id="email"
          autoComplete="email"
          required
          defaultValue={state.email ?? ""}
          aria-invalid={errors.email ? true : undefined}
          aria-describedby={errors.email ? "email-error" : undefined}
        />
        <FieldError id="email-error" message={errors.email} />
      </p>
      <p>
        <label htmlFor="password">Password</label>
        <input
          type="password"
          name="password"
          id="password"
          autoComplete={text.autoComplete}
          required
          aria-invalid={errors.password ? true : undefined}
          aria-describedby={errors.password ? "password-error" : undefined}
        />
        <FieldError id="password-error" message={errors.password} />
      </p>
      <p>
        <button type="submit" disabled={pending}>
          {text.button}
        </button>
      </p>
      <p>
        <Link href={text.other}>{text.otherText}</Link>
      </p>
    </form>
  );
}
