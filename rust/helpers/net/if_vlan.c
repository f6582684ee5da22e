// SPDX-License-Identifier: GPL-2.0

#include <linux/if_vlan.h>

#ifdef CONFIG_NET

__rust_helper void rust_helper___vlan_hwaccel_put_tag(struct sk_buff *skb,
						      __be16 vlan_proto,
						      u16 vlan_tci)
{
	__vlan_hwaccel_put_tag(skb, vlan_proto, vlan_tci);
}

__rust_helper __be16 rust_helper_vlan_get_protocol(const struct sk_buff *skb)
{
	return vlan_get_protocol(skb);
}

#endif /* CONFIG_NET */
