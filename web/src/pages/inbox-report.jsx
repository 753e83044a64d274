// Placeholder: being written.
export default function Page() {
  return <p>inbox-report</p>;
}
