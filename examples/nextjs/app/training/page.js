import { redirect } from "next/navigation";

import { logout } from "../../lib/actions";
import { callApiAsUser, verifyAuth } from "../../lib/auth";

export const metadata = { title: "Your trainings · Training" };
// Rendered for each request, never from a cache: the page holds the user's data.
export const dynamic = "force-dynamic";

export default async function TrainingPage() {
  const { user } = await verifyAuth();
  if (!user) redirect("/login");
  const answer = await callApiAsUser("/trainings");
  if (answer === null) redirect("/login"); // revoked between the two calls
  return (
    <>
      <h1>Your trainings</h1>
      <p>Signed in as {user.email}.</p>
      <ul id="trainings">
        {answer.trainings.map((training) => (
          <li key={training.id}>
            {training.title} ({training.minutes} min)
          </li>
        ))}
      </ul>
      <form action={logout}>
        <button type="submit">Log out</button>
      </form>
    </>
  );
}
