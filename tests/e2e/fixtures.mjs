// Test data shared by the browser tests.

// A real 32×24 PNG (a colour gradient): the server decodes every photo it receives.
export const PNG = Buffer.from(
  "iVBORw0KGgoAAAANSUhEUgAAACAAAAAYCAIAAAAUMWhjAAAFg0lEQVR42hXUIcuDUACFYeMwGQwmWbxxmAwGkyzeKCaDYUmMbxSTwWCSxRuHyWAwifHGYVowLMniovHbd/7AA4fDMQyDk4Fl4BicDYTBxcA3CA2uBtIgNkgNbgaFAQalQW3QGtwNlMHDYDCYDBYDbfA0eBm8DT4GX4PDwDBMTiaWiWNyNhEmFxPfJDS5mkiT2CQ1uZkUJpiUJrVJa3I3USYPk8FkMllMtMnT5GXyNvmYfE0O8wfYnGwsG8fmbCNsLja+TWhztZE2sU1qc7MpbLApbWqb1uZuo2weNoPNZLPYaJunzcvmbfOx+doc9g9wOblYLo7L2UW4XFx8l9Dl6iJdYpfU5eZSuOBSutQurcvdRbk8XAaXyWVx0S5Pl5fL2+Xj8nU53B8gOAksgSM4C4TgIvAFoeAqkIJYkApugkKAoBTUglZwFyjBQzAIJsEi0IKn4CV4Cz6Cr+AQP8Dj5GF5OB5nD+Fx8fA9Qo+rh/SIPVKPm0fhgUfpUXu0HncP5fHwGDwmj8VDezw9Xh5vj4/H1+PwfkDAKcAKcALOASLgEuAHhAHXABkQB6QBt4AigIAyoA5oA+4BKuARMARMAUuADngGvALeAZ+Ab8AR/ICIU4QV4UScI0TEJcKPCCOuETIijkgjbhFFBBFlRB3RRtwjVMQjYoiYIpYIHfGMeEW8Iz4R34gj+gGSk8SSOJKzREguEl8SSq4SKYklqeQmKSRISkktaSV3iZI8JINkkiwSLXlKXpK35CP5Sg75AxJOCVaCk3BOEAmXBD8hTLgmyIQ4IU24JRQJJJQJdUKbcE9QCY+EIWFKWBJ0wjPhlfBO+CR8E47kB2ScMqwMJ+OcITIuGX5GmHHNkBlxRppxyygyyCgz6ow2456hMh4ZQ8aUsWTojGfGK+Od8cn4ZhzZD8g55Vg5Ts45R+RccvycMOeaI3PinDTnllPkkFPm1Dltzj1H5TxyhpwpZ8nROc+cV84755PzzTnyHwAnsMCB8//QuYAPIVz/OyeGFG5Q8J8SamjhDgoeMMAEC2h4wgve8IEvHL/3MipOFVaFU3GuEBWXCr8irLhWyIq4Iq24VRQVVJQVdUVbca9QFY+KoWKqWCp0xbPiVfGu+FR8K47qBzScGqwGp+HcIBouDX5D2HBtkA1xQ9pwaygaaCgb6oa24d6gGh4NQ8PUsDTohmfDq+Hd8Gn4NhzND+g4dVgdTse5Q3RcOvyOsOPaITvijrTj1lF00FF21B1tx71DdTw6ho6pY+nQHc+OV8e749Px7Ti6H6A4KSyFozgrhOKi8BWh4qqQiliRKm6KQv23XipqRau4K5TioRgUk2JRaMVT8VK8FR/FV3GoH9Bz6rF6nJ5zj+i59Pg9Yc+1R/bEPWnPrafooafsqXvannuP6nn0DD1Tz9Kje549r553z6fn23P0P2DkNGKNOCPnETFyGfFHwpHriByJR9KR20gxwkg5Uo+0I/cRNfIYGUamkWVEjzxHXiPvkc/Id+QYf8DMacaacWbOM2LmMuPPhDPXGTkTz6Qzt5lihplypp5pZ+4zauYxM8xMM8uMnnnOvGbeM5+Z78wx/wDNSWNpHM1ZIzQXja8JNVeN1MSaVHPTFPp/6qWm1rSau0ZpHppBM2kWjdY8NS/NW/PRfDWH/gErpxVrxVk5r4iVy4q/Eq5cV+RKvJKu3FaKFVbKlXqlXbmvqJXHyrAyrSwreuW58lp5r3xWvivH+gM2ThvWhrNx3hAblw1/I9y4bsiNeCPduG0UG2yUG/VGu3HfUBuPjWFj2lg29MZz47Xx3vhsfDeO7QfsnHasHWfnvCN2Ljv+Trhz3ZE78U66c9spdtgpd+qddue+o3YeO8POtLPs6J3nzmvnvfPZ+e4cO39nPzU9F59ANwAAAABJRU5ErkJggg==",
  "base64",
);

/** A bearer token of a demo account, for calls made outside the browser. */
export async function apiToken(url, username, password) {
  const r = await fetch(`${url}/api/v1/auth/token`, { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify({ username, password }) });
  if (r.status !== 200) throw new Error(`token for ${username}: HTTP ${r.status}`);
  return (await r.json()).access_token;
}

/**
 * A shared dataset (Nghị định 47/2020: private, access level "shared") of HEPCO, created through
 * the CKAN API with `token`, so connection accounts can be granted access to it.
 */
export async function createSharedDataset(url, token, name) {
  const r = await fetch(`${url}/api/3/action/package_create`, {
    method: "POST",
    headers: { "Content-Type": "application/json", Authorization: token },
    body: JSON.stringify({
      name,
      title: "Tuyến thu gom rác (E2E)",
      notes: "Lộ trình xe thu gom, chia sẻ với các cơ quan.",
      owner_org: "hepco",
      private: true,
      license_id: "vn-shared-conditional",
      extras: [{ key: "access_level", value: "shared" }],
    }),
  });
  const body = await r.json();
  if (r.status !== 200 || !body.success) throw new Error(`package_create ${name}: HTTP ${r.status} ${JSON.stringify(body)}`);
  return body.result;
}
