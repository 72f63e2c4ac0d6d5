import AuthForm from "../../components/auth-form";

export const metadata = { title: "Create an account · Training" };

export default function SignupPage() {
  return <AuthForm mode="signup" />;
}
