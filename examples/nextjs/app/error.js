"use client";

// Shown when a page could not reach the auth service (it answered 5xx, or not at all): the
// visitor stays signed in, and can try again.
export default function ErrorPage({ reset }) {
  return (
    <>
      <h1>Something went wrong</h1>
      <p id="service-error" role="alert">
        The sign-in service did not answer. Try again in a moment.
      </p>
      <button type="button" onClick={() => reset()}>
        Try again
      </button>
    </>
  );
}
