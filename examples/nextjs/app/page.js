import { redirect } from "next/navigation";

import { verifyAuth } from "../lib/auth";

export const dynamic = "force-dynamic";

export default async function Home() {
  const { user } = await verifyAuth();
  redirect(user ? "/training" : "/login");
}
