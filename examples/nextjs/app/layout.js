import "./globals.css";

export const metadata = {
  title: "Training",
  description: "The Lucia tutorial's training app, signed in by the auth service",
};

export default function RootLayout({ children }) {
  return (
    <html lang="en">
      <body>
        <header id="main-header">
          <p className="brand">Training</p>
        </header>
        <main>{children}</main>
      </body>
    </html>
  );
}
