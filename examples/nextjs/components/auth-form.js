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

/** A labelled input, and our message for it (tied to it for screen readers) when there is one. */
function Field({ name, label, error, ...input }) {
  const errorId = `${name}-error`;
  return (
    <div className="field">
      <label htmlFor={name}>{label}</label>
      <input
        name={name}
        id={name}
        required
        aria-invalid={error ? true : undefined}
        aria-describedby={error ? errorId : undefined}
        {...input}
      />
      {error ? (
        <p className="field-error" id={errorId}>
          {error}
        </p>
      ) : null}
    </div>
  );
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
      <Field
        name="email"
        label="Email"
        type="email"
        autoComplete="email"
        defaultValue={state.email ?? ""}
        error={errors.email}
      />
      <Field
        name="password"
        label="Password"
        type="password"
        autoComplete={text.autoComplete}
        error={errors.password}
      />
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
