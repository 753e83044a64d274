// Placeholder: being written.
export default function Page() {
  return <p>report-new</p>;
}
